//! Which peer connection a datagram on the shared media port belongs to, decided without
//! sockets: what a datagram is (RFC 7983: STUN, DTLS, RTP/RTCP, or garbage), the routing table
//! (remote address → connection, local ICE ufrag → connection and password) and the route of one
//! datagram. A remote address is bound to a connection only once that connection has answered a
//! STUN check from it (see [`is_binding_success`]); until then only an authenticated STUN binding
//! request naming a known ufrag gets through ([`check_credentials`]), and the answer to one of
//! the connection's own checks (same transaction id, from the address it was sent to: a
//! controlling browser nominates at once and only answers its checks after the server's own
//! check of that pair succeeded). Everything else is dropped and counted under a [`DropReason`].

use rtc::crypto::RTCCrypto;
use rtc::stun::attributes::ATTR_USERNAME;
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{BINDING_REQUEST, Message};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// The STUN magic cookie (RFC 5389), bytes 4..8 of every STUN message.
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const STUN_HEADER: usize = 20;
/// Outstanding checks remembered (the oldest are forgotten first); a connection sends a few per
/// second while it checks, one every few seconds once connected.
const PENDING_CHECKS: usize = 4096;

/// A STUN transaction id.
pub type TxId = [u8; 12];

/// Identifies one peer connection attached to the shared socket.
pub type PcId = u64;

/// What a datagram is, by its first byte (RFC 7983) and, for STUN, its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Stun,
    Dtls,
    Rtp,
    /// Empty, a first byte no WebRTC protocol uses, or a STUN header that does not hold.
    Garbage,
}

pub fn classify(d: &[u8]) -> Class {
    match d.first() {
        Some(0..=3) => {
            let declared = d
                .get(2..4)
                .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])));
            let whole = declared.is_some_and(|l| l % 4 == 0 && d.len() == STUN_HEADER + l);
            if whole && d[4..8] == MAGIC_COOKIE {
                Class::Stun
            } else {
                Class::Garbage
            }
        }
        Some(20..=63) if d.len() >= 13 => Class::Dtls,
        Some(128..=191) if d.len() >= 12 => Class::Rtp,
        _ => Class::Garbage,
    }
}

/// True for a STUN Binding success response: a connection sending one has accepted the check
/// it answers (credentials verified by its ICE agent), so its destination may be bound to it.
pub fn is_binding_success(d: &[u8]) -> bool {
    d.len() >= STUN_HEADER && d[0..2] == [0x01, 0x01] && d[4..8] == MAGIC_COOKIE
}

/// Why a datagram was dropped on the shared port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not STUN, DTLS or RTP/RTCP, or a truncated STUN message.
    Malformed,
    /// DTLS, RTP/RTCP, or a STUN response or indication answering no check of a connection,
    /// from an address no connection has accepted.
    UnknownSource,
    /// A STUN binding request from an unknown address naming no known ufrag.
    UnknownUfrag,
    /// A binding request naming a known ufrag whose MESSAGE-INTEGRITY does not verify.
    BadCredentials,
    /// The connection's inbound queue was full (it is not keeping up).
    QueueFull,
}

/// Where one datagram goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'t> {
    /// From an address bound to this connection.
    Bound(PcId),
    /// A binding request from a new address naming this connection's ufrag: deliver only if it
    /// verifies with the password ([`check_credentials`]).
    Check {
        pc: PcId,
        pwd: &'t str,
    },
    Drop(DropReason),
}

/// The routing table of the shared port.
#[derive(Debug, Default)]
pub struct Table {
    by_addr: HashMap<SocketAddr, PcId>,
    by_ufrag: HashMap<String, (PcId, String)>,
    /// Checks the connections sent: transaction id → (connection, destination).
    checks: HashMap<TxId, (PcId, SocketAddr)>,
    check_order: VecDeque<TxId>,
}

impl Table {
    pub fn route(&self, from: SocketAddr, d: &[u8]) -> Route<'_> {
        let class = classify(d);
        if class == Class::Garbage {
            return Route::Drop(DropReason::Malformed);
        }
        if let Some(pc) = self.by_addr.get(&from) {
            return Route::Bound(*pc);
        }
        if class != Class::Stun {
            return Route::Drop(DropReason::UnknownSource);
        }
        if d[0..2] != [0x00, 0x01] {
            return match self.checks.get(&txid(d)) {
                Some((pc, to)) if *to == from => Route::Bound(*pc),
                _ => Route::Drop(DropReason::UnknownSource),
            };
        }
        match request_ufrag(d).and_then(|u| self.by_ufrag.get(u)) {
            Some((pc, pwd)) => Route::Check { pc: *pc, pwd },
            None => Route::Drop(DropReason::UnknownUfrag),
        }
    }

    /// Registers a local ICE ufrag (and its password) of `pc`; a restart adds the new one.
    pub fn add_ufrag(&mut self, pc: PcId, ufrag: &str, pwd: &str) {
        self.by_ufrag.insert(ufrag.to_owned(), (pc, pwd.to_owned()));
    }

    /// Binds a remote address to `pc` (the latest connection to accept it wins). Returns
    /// whether anything changed.
    pub fn bind(&mut self, addr: SocketAddr, pc: PcId) -> bool {
        self.by_addr.insert(addr, pc) != Some(pc)
    }

    /// Remembers a binding request `pc` sends to `to`, so that its answer routes back.
    pub fn expect_answer(&mut self, d: &[u8], pc: PcId, to: SocketAddr) {
        let id = txid(d);
        if self.checks.insert(id, (pc, to)).is_none() {
            self.check_order.push_back(id);
        }
        while self.check_order.len() > PENDING_CHECKS {
            if let Some(old) = self.check_order.pop_front() {
                self.checks.remove(&old);
            }
        }
    }

    pub fn is_bound(&self, addr: SocketAddr, pc: PcId) -> bool {
        self.by_addr.get(&addr) == Some(&pc)
    }

    /// Forgets everything of a closed connection.
    pub fn forget(&mut self, pc: PcId) {
        self.by_addr.retain(|_, p| *p != pc);
        self.by_ufrag.retain(|_, (p, _)| *p != pc);
        self.checks.retain(|_, (p, _)| *p != pc);
        let checks = &self.checks;
        self.check_order.retain(|id| checks.contains_key(id));
    }

    /// Releases the capacity the maps grew to (called when no connection is left).
    pub fn shrink_to_fit(&mut self) {
        self.by_addr.shrink_to_fit();
        self.by_ufrag.shrink_to_fit();
        self.checks.shrink_to_fit();
        self.check_order.shrink_to_fit();
    }

    /// (bound addresses, registered ufrags).
    pub fn len(&self) -> (usize, usize) {
        (self.by_addr.len(), self.by_ufrag.len())
    }
}

/// True for a STUN binding request (a check), as a connection sends it.
pub fn is_binding_request(d: &[u8]) -> bool {
    d.len() >= STUN_HEADER && d[0..2] == [0x00, 0x01] && d[4..8] == MAGIC_COOKIE
}

/// The transaction id of a STUN message (at least a whole header, see [`classify`]).
fn txid(d: &[u8]) -> TxId {
    let mut id = [0; 12];
    id.copy_from_slice(&d[8..20]);
    id
}

/// The local ufrag (before the colon of USERNAME) of a STUN binding request, read in place.
pub fn request_ufrag(d: &[u8]) -> Option<&str> {
    if classify(d) != Class::Stun || d[0..2] != [0x00, 0x01] {
        return None;
    }
    let mut at = STUN_HEADER;
    while at + 4 <= d.len() {
        let typ = u16::from_be_bytes([d[at], d[at + 1]]);
        let len = usize::from(u16::from_be_bytes([d[at + 2], d[at + 3]]));
        let value = d.get(at + 4..at + 4 + len)?;
        if typ == ATTR_USERNAME.0 {
            let username = std::str::from_utf8(value).ok()?;
            return username.split_once(':').map(|(local, _)| local);
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

/// True when `d` is a binding request whose MESSAGE-INTEGRITY verifies with `pwd` (the
/// short-term credential of the connection it names).
pub fn check_credentials(d: &[u8], pwd: &str, crypto: &dyn RTCCrypto) -> bool {
    let mut m = Message::new();
    if m.unmarshal_binary(d).is_err() || m.typ != BINDING_REQUEST {
        return false;
    }
    MessageIntegrity::check(&mut m, pwd.as_bytes(), crypto).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::stun::fingerprint::FINGERPRINT;
    use rtc::stun::message::{BINDING_SUCCESS, Setter};
    use rtc::stun::textattrs::TextAttribute;

    fn crypto() -> std::sync::Arc<dyn rtc::crypto::RTCCryptoProvider> {
        rtc::crypto::default_provider().unwrap()
    }

    fn request(username: &str, pwd: &str) -> Vec<u8> {
        let provider = crypto();
        let mut m = Message::new();
        m.build(&[
            Box::new(BINDING_REQUEST),
            Box::new(rtc::stun::message::TransactionId::new()),
            Box::new(TextAttribute::new(ATTR_USERNAME, username.to_owned())),
            Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
                pwd.to_owned(),
                provider.crypto(),
            )) as Box<dyn Setter>,
            Box::new(FINGERPRINT),
        ])
        .unwrap();
        m.raw
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn classifies_by_first_byte_and_stun_header() {
        let req = request("srv:cli", "pw");
        assert_eq!(classify(&req), Class::Stun);
        assert_eq!(classify(&req[..req.len() - 1]), Class::Garbage);
        assert_eq!(classify(&req[..10]), Class::Garbage);
        assert_eq!(classify(&[22; 40]), Class::Dtls);
        assert_eq!(classify(&[0x80; 100]), Class::Rtp);
        assert_eq!(classify(&[0x80; 5]), Class::Garbage);
        assert_eq!(classify(&[]), Class::Garbage);
        assert_eq!(classify(&[0xff; 200]), Class::Garbage);
        let mut wrong_cookie = req.clone();
        wrong_cookie[5] ^= 1;
        assert_eq!(classify(&wrong_cookie), Class::Garbage);
    }

    #[test]
    fn reads_the_local_ufrag_of_a_binding_request() {
        assert_eq!(
            request_ufrag(&request("srvUfrag:cliUfrag", "pw")),
            Some("srvUfrag")
        );
        assert_eq!(request_ufrag(&request("nocolon", "pw")), None);
        assert_eq!(request_ufrag(&[0x80; 100]), None);
        let mut m = Message::new();
        m.build(&[
            Box::new(BINDING_SUCCESS),
            Box::new(rtc::stun::message::TransactionId::new()),
        ])
        .unwrap();
        assert_eq!(request_ufrag(&m.raw), None);
        assert!(is_binding_success(&m.raw));
        assert!(!is_binding_success(&request("a:b", "pw")));
    }

    #[test]
    fn verifies_short_term_credentials() {
        let p = crypto();
        let req = request("srv:cli", "secret-password");
        assert!(check_credentials(&req, "secret-password", p.crypto()));
        assert!(!check_credentials(&req, "wrong-password", p.crypto()));
        let mut tampered = req.clone();
        tampered[9] ^= 1;
        assert!(!check_credentials(&tampered, "secret-password", p.crypto()));
        assert!(!check_credentials(
            &[0x80; 100],
            "secret-password",
            p.crypto()
        ));
    }

    #[test]
    fn routes_by_address_then_ufrag_and_drops_the_rest() {
        let mut t = Table::default();
        t.add_ufrag(1, "one", "pw1");
        t.add_ufrag(2, "two", "pw2");
        let req = request("two:x", "pw2");
        assert_eq!(t.route(addr(9), &req), Route::Check { pc: 2, pwd: "pw2" });
        assert_eq!(
            t.route(addr(9), &request("three:x", "pw")),
            Route::Drop(DropReason::UnknownUfrag)
        );
        assert_eq!(
            t.route(addr(9), &[22; 40]),
            Route::Drop(DropReason::UnknownSource)
        );
        let mut success = Message::new();
        success
            .build(&[
                Box::new(BINDING_SUCCESS),
                Box::new(rtc::stun::message::TransactionId::new()),
            ])
            .unwrap();
        assert_eq!(
            t.route(addr(9), &success.raw),
            Route::Drop(DropReason::UnknownSource)
        );
        assert_eq!(
            t.route(addr(9), &[0x80; 40]),
            Route::Drop(DropReason::UnknownSource)
        );
        assert_eq!(
            t.route(addr(9), &[7; 3]),
            Route::Drop(DropReason::Malformed)
        );
        assert!(t.bind(addr(9), 2));
        assert!(!t.bind(addr(9), 2));
        assert_eq!(t.route(addr(9), &[0x80; 40]), Route::Bound(2));
        // A bound address still cannot smuggle garbage through.
        assert_eq!(
            t.route(addr(9), &[7; 3]),
            Route::Drop(DropReason::Malformed)
        );
        // An ICE restart adds a ufrag; the old address keeps routing.
        t.add_ufrag(2, "two-b", "pw2b");
        assert_eq!(
            t.route(addr(10), &request("two-b:x", "pw2b")),
            Route::Check { pc: 2, pwd: "pw2b" }
        );
        t.forget(2);
        assert_eq!(t.len(), (0, 1));
        assert_eq!(
            t.route(addr(9), &[0x80; 40]),
            Route::Drop(DropReason::UnknownSource)
        );
        assert_eq!(
            t.route(addr(9), &req),
            Route::Drop(DropReason::UnknownUfrag)
        );
    }
}
