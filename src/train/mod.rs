//! Data and measures for training and evaluation: labelled manifests
//! ([`manifest`]) and the metrics of dimensional SER ([`metrics`]).

pub mod manifest;
pub mod metrics;
