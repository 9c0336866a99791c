//! Integration tests: one binary (see ARCHITECTURE.md), one module per concern.

mod provisions;
