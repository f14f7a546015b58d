//! Security UDFs.
pub const PSL_CRATE_VERSION: &str = "psl 2.1";
