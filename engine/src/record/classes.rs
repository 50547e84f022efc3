//! The fixed vocabularies of recorded outcomes: error classes and injected fault kinds. Both are
//! small enums indexing fixed arrays, so counting one is an array increment.

use ptl_bytecode::plan::Fault;

/// Why an organic request failed. The names are the keys of `errors_by_class` in results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// No connection could be made (refused, unreachable, DNS, connect timeout).
    Connect,
    /// No complete answer within the plan's timeout.
    Timeout,
    /// The server closed or reset the connection before the answer was complete.
    Reset,
    /// A status outside the expected ones.
    Status,
    /// Any other failed expectation (latency, body, JSON).
    Expect,
    /// A capture found nothing and had no default.
    Capture,
    /// Any other transport or protocol failure.
    Io,
    /// TLS failed: the handshake (certificate, protocol, alert) or a session's record layer.
    Tls,
}

impl ErrorClass {
    pub const COUNT: usize = 8;
    pub const ALL: [ErrorClass; ErrorClass::COUNT] = [
        ErrorClass::Connect,
        ErrorClass::Timeout,
        ErrorClass::Reset,
        ErrorClass::Status,
        ErrorClass::Expect,
        ErrorClass::Capture,
        ErrorClass::Io,
        ErrorClass::Tls,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Connect => "connect",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Reset => "reset",
            ErrorClass::Status => "status",
            ErrorClass::Expect => "expect",
            ErrorClass::Capture => "capture",
            ErrorClass::Io => "io",
            ErrorClass::Tls => "tls",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The kind of a fault the client injected into a request. Keys of `injected` in results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    Abort,
    Delay,
    Reset,
    Corrupt,
    Header,
}

impl FaultKind {
    pub const COUNT: usize = 5;
    pub const ALL: [FaultKind; FaultKind::COUNT] = [
        FaultKind::Abort,
        FaultKind::Delay,
        FaultKind::Reset,
        FaultKind::Corrupt,
        FaultKind::Header,
    ];

    pub fn of(fault: &Fault) -> FaultKind {
        match fault {
            Fault::Abort => FaultKind::Abort,
            Fault::Delay { .. } => FaultKind::Delay,
            Fault::Reset => FaultKind::Reset,
            Fault::Corrupt => FaultKind::Corrupt,
            Fault::Header { .. } => FaultKind::Header,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Abort => "abort",
            FaultKind::Delay => "delay",
            FaultKind::Reset => "reset",
            FaultKind::Corrupt => "corrupt",
            FaultKind::Header => "header",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_match_positions_in_all() {
        for (i, c) in ErrorClass::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        for (i, k) in FaultKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}
