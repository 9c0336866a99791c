//! Integration tests: one binary (see ARCHITECTURE.md), one module per concern.

mod cli;
mod fixtures;
mod provisions;
mod robustness;
mod standards;
