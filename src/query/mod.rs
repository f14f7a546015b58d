//! DataFusion session over a dataset directory: every table registered by name, security UDFs.
pub mod udf;
