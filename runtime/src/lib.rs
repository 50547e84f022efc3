//! stub
pub mod demo_target;
pub mod response_check;
pub mod schedule;
pub mod vm;
pub mod results;
