//! stub
pub mod response_check;
pub mod schedule;
pub mod vm;
