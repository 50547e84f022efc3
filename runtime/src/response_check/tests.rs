//! Tests of response checks.
