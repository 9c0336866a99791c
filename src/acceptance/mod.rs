//! Pilot-project acceptance (验收): the scoring table experts score against and
//! how their scores combine, and the character counts of award application forms.
//!
//! Data flows one way: a scoring table (YAML, [`scoring::Table::from_yaml`]) and
//! each expert's sheet → [`scoring::aggregate`] → the figures the acceptance
//! report shows. Nothing here reads the database.

pub mod award;
pub mod chars;
pub mod report;
pub mod scoring;
