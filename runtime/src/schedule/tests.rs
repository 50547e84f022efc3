//! Tests of arrival schedules.
