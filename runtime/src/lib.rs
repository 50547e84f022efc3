//! stub
pub mod demo_target;
pub mod junit;
pub mod report_format;
pub mod report_html;
pub mod summary_table;
pub mod response_check;
pub mod schedule;
pub mod vm;
pub mod results;
