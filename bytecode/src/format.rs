//! The numbers that define the binary plan format: magic, header layout, section ids and the
//! tag of every enum variant. The encoder and decoder both read them from here, so the two
//! cannot drift apart; `docs/bytecode.md` documents the same values.

use crate::plan::{Arrivals, Cmp, Draw, Encoding, HttpVersion, Method, Overflow};

/// The first four bytes of every encoded plan.
pub const MAGIC: [u8; 4] = *b"PTLC";

/// The format version this build writes, and the newest it reads. Bump it on any change to the
/// byte layout; see "Versioning" in `docs/bytecode.md`.
pub const FORMAT_VERSION: u16 = 7;

/// Oldest version this build still reads.
pub const MIN_FORMAT_VERSION: u16 = 1;

/// The first version whose meta section holds the plan's HTTP version (after `overflow`); a
/// v1 plan decodes as HTTP/1.1.
pub(crate) const HTTP_VERSION_SINCE: u16 = 2;

/// The first version where a think time (a scenario's `Think` step, a `Users` load) is a
/// tagged `Think` (uniform or exponential); before, a step held `min max` and `Users` one time.
pub(crate) const THINK_SINCE: u16 = 3;

/// The first version with the richer expectations (`BodyMatches`, `JsonNe`, `JsonExists`,
/// `HeaderContains`); their tags in an older plan are as unknown as any other bad tag.
pub(crate) const RICHER_EXPECTS_SINCE: u16 = 3;

/// The first version with the `env(…)` generator; its tag in an older plan is unknown.
pub(crate) const ENV_SINCE: u16 = 4;

/// The first version with several hosts, per-request timeouts and tags: the meta section
/// ends with the hosts and the tag table, a request with its host, timeout and tags, and a
/// threshold may be scoped to a tag.
pub(crate) const HOSTS_SINCE: u16 = 5;

/// The first version where a feeder (`Generator::Csv`) carries its draw mode after the
/// dataset; before, every feeder drew its rows in order.
pub(crate) const DRAW_SINCE: u16 = 6;

/// The first version with `Encode` var parts (`base64(…)`, `url_encode(…)`, `basic_auth(…)`).
pub(crate) const ENCODE_SINCE: u16 = 6;

/// The first version whose payload may end with the optional sources section (id 9): the
/// plan's source files, so that `ptl run plan.ptlc --set …` can check and compile it again.
pub(crate) const SOURCES_SINCE: u16 = 6;
pub(crate) const SOURCES_SECTION_ID: u8 = 9;

/// The first version whose meta section ends with the `stop_at knee` flag (one byte, 0 or 1);
/// an older plan never stops at the knee.
pub(crate) const STOP_AT_SINCE: u16 = 7;

/// The first version whose meta section ends (after the `stop_at` flag) with the targets read
/// from the environment (`target env("API_URL")`).
pub(crate) const TARGET_ENV_SINCE: u16 = 7;

/// Magic (4) + version (2) + flags (2) + payload length (8) + CRC-32 (4).
pub const HEADER_LEN: usize = 20;

pub(crate) const VERSION_OFFSET: usize = 4;
pub(crate) const FLAGS_OFFSET: usize = 6;
pub(crate) const CHECKSUM_OFFSET: usize = 16;

/// Header flags this version understands. v1 defines none; a set bit is an error, so a future
/// flag (say, compression) can never be silently ignored.
pub(crate) const KNOWN_FLAGS: u16 = 0;

/// The payload's sections, in the only order they may appear, each exactly once. Every index a
/// section holds points into an earlier section, so the decoder checks references as it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Meta = 1,
    Consts = 2,
    Datasets = 3,
    Vars = 4,
    Headers = 5,
    Scenarios = 6,
    Phases = 7,
    Thresholds = 8,
}

impl Section {
    pub const ALL: [Section; 8] = [
        Section::Meta,
        Section::Consts,
        Section::Datasets,
        Section::Vars,
        Section::Headers,
        Section::Scenarios,
        Section::Phases,
        Section::Thresholds,
    ];

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Section::Meta => "meta",
            Section::Consts => "consts",
            Section::Datasets => "datasets",
            Section::Vars => "vars",
            Section::Headers => "headers",
            Section::Scenarios => "scenarios",
            Section::Phases => "phases",
            Section::Thresholds => "thresholds",
        }
    }
}

/// Tags of the enums that carry data. Each is one byte, written before the variant's fields.
pub(crate) mod tag {
    pub const PART_LIT: u8 = 0;
    pub const PART_VAR: u8 = 1;
    pub const PART_GEN: u8 = 2;
    pub const PART_ENCODE: u8 = 3;

    pub const GEN_INT: u8 = 0;
    pub const GEN_FLOAT: u8 = 1;
    pub const GEN_ONE_OF: u8 = 2;
    pub const GEN_WEIGHTED: u8 = 3;
    pub const GEN_UUID: u8 = 4;
    pub const GEN_SEQ: u8 = 5;
    pub const GEN_CSV: u8 = 6;
    pub const GEN_ZIPF: u8 = 7;
    pub const GEN_STR: u8 = 8;
    pub const GEN_NOW: u8 = 9;
    pub const GEN_ENV: u8 = 10;

    pub const OP_LIT: u8 = 0;
    pub const OP_VAR: u8 = 1;
    pub const OP_FIELD: u8 = 2;
    pub const OP_CAPTURE: u8 = 3;

    pub const STEP_REQUEST: u8 = 0;
    pub const STEP_THINK: u8 = 1;

    pub const THINK_UNIFORM: u8 = 0;
    pub const THINK_EXPONENTIAL: u8 = 1;

    pub const EXPECT_STATUS: u8 = 0;
    pub const EXPECT_LATENCY_BELOW: u8 = 1;
    pub const EXPECT_BODY_CONTAINS: u8 = 2;
    pub const EXPECT_JSON_EQ: u8 = 3;
    pub const EXPECT_BODY_MATCHES: u8 = 4;
    pub const EXPECT_JSON_NE: u8 = 5;
    pub const EXPECT_JSON_EXISTS: u8 = 6;
    pub const EXPECT_HEADER_CONTAINS: u8 = 7;

    pub const SOURCE_JSON: u8 = 0;
    pub const SOURCE_HEADER: u8 = 1;
    pub const SOURCE_REGEX: u8 = 2;
    pub const SOURCE_STATUS: u8 = 3;

    pub const LOAD_RATE: u8 = 0;
    pub const LOAD_RAMP: u8 = 1;
    pub const LOAD_STEPS: u8 = 2;
    pub const LOAD_PAUSE: u8 = 3;
    pub const LOAD_USERS: u8 = 4;

    pub const FAULT_ABORT: u8 = 0;
    pub const FAULT_DELAY: u8 = 1;
    pub const FAULT_RESET: u8 = 2;
    pub const FAULT_CORRUPT: u8 = 3;
    pub const FAULT_HEADER: u8 = 4;

    pub const SCOPE_ALL: u8 = 0;
    pub const SCOPE_PHASE: u8 = 1;
    pub const SCOPE_SCENARIO: u8 = 2;
    pub const SCOPE_STEP: u8 = 3;
    pub const SCOPE_TAG: u8 = 4;

    pub const METRIC_PERCENTILE: u8 = 0;
    pub const METRIC_MAX: u8 = 1;
    pub const METRIC_MEAN: u8 = 2;
    pub const METRIC_ERROR_RATE: u8 = 3;
    pub const METRIC_ACHIEVED_RATE: u8 = 4;
    pub const METRIC_DROPPED_RATE: u8 = 5;
    pub const METRIC_ITERATION_PERCENTILE: u8 = 6;
    pub const METRIC_COMPLETION_RATE: u8 = 7;
}

// Fieldless enums: the tag is the position in the table. The `*_tag` functions are the inverse,
// written as matches so that a new variant is a compile error here rather than a silent tag.

pub(crate) const METHODS: [Method; 7] = [
    Method::Get,
    Method::Post,
    Method::Put,
    Method::Delete,
    Method::Patch,
    Method::Head,
    Method::Options,
];

pub(crate) fn method_tag(method: Method) -> u8 {
    match method {
        Method::Get => 0,
        Method::Post => 1,
        Method::Put => 2,
        Method::Delete => 3,
        Method::Patch => 4,
        Method::Head => 5,
        Method::Options => 6,
    }
}

pub(crate) const OVERFLOWS: [Overflow; 2] = [Overflow::Drop, Overflow::Queue];

pub(crate) fn overflow_tag(overflow: Overflow) -> u8 {
    match overflow {
        Overflow::Drop => 0,
        Overflow::Queue => 1,
    }
}

pub(crate) const DRAWS: [Draw; 3] = [Draw::Sequential, Draw::Random, Draw::Unique];

pub(crate) fn draw_tag(draw: Draw) -> u8 {
    match draw {
        Draw::Sequential => 0,
        Draw::Random => 1,
        Draw::Unique => 2,
    }
}

pub(crate) const ENCODINGS: [Encoding; 2] = [Encoding::Base64, Encoding::UrlEncode];

pub(crate) fn encoding_tag(encoding: Encoding) -> u8 {
    match encoding {
        Encoding::Base64 => 0,
        Encoding::UrlEncode => 1,
    }
}

pub(crate) const HTTP_VERSIONS: [HttpVersion; 2] = [HttpVersion::Http1, HttpVersion::Http2];

pub(crate) fn http_version_tag(http: HttpVersion) -> u8 {
    match http {
        HttpVersion::Http1 => 0,
        HttpVersion::Http2 => 1,
    }
}

pub(crate) const ARRIVALS: [Arrivals; 2] = [Arrivals::Uniform, Arrivals::Poisson];

pub(crate) fn arrivals_tag(arrivals: Arrivals) -> u8 {
    match arrivals {
        Arrivals::Uniform => 0,
        Arrivals::Poisson => 1,
    }
}

pub(crate) const CMPS: [Cmp; 4] = [Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];

pub(crate) fn cmp_tag(cmp: Cmp) -> u8 {
    match cmp {
        Cmp::Lt => 0,
        Cmp::Le => 1,
        Cmp::Gt => 2,
        Cmp::Ge => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fieldless_tables_invert_their_tag_functions() {
        for (i, m) in METHODS.iter().enumerate() {
            assert_eq!(method_tag(*m) as usize, i);
        }
        for (i, o) in OVERFLOWS.iter().enumerate() {
            assert_eq!(overflow_tag(*o) as usize, i);
        }
        for (i, e) in ENCODINGS.iter().enumerate() {
            assert_eq!(encoding_tag(*e) as usize, i);
        }
        for (i, d) in DRAWS.iter().enumerate() {
            assert_eq!(draw_tag(*d) as usize, i);
        }
        for (i, h) in HTTP_VERSIONS.iter().enumerate() {
            assert_eq!(http_version_tag(*h) as usize, i);
        }
        for (i, a) in ARRIVALS.iter().enumerate() {
            assert_eq!(arrivals_tag(*a) as usize, i);
        }
        for (i, c) in CMPS.iter().enumerate() {
            assert_eq!(cmp_tag(*c) as usize, i);
        }
    }

    #[test]
    fn sections_are_numbered_in_order_from_one() {
        for (i, s) in Section::ALL.iter().enumerate() {
            assert_eq!(s.id() as usize, i + 1);
        }
    }
}
