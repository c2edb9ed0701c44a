//! What the server tells sites about its side of ICE when every connection shares one UDP port:
//! each connection's host candidates carry the port its stack bound internally, and are rewritten
//! to the shared port before they leave (in trickled candidates and in the candidate lines of an
//! offer or answer); the local ICE credentials are read from the description the server sends,
//! so that the shared socket can route a site's first checks to the right connection (and the
//! new ufrag after an ICE restart, whose offer or answer goes out the same way). Behind a 1:1 NAT
//! (`media.nat_1to1_ips`) the host candidates' address is replaced too, by the configured public
//! address of the same IP family: the webrtc stack (0.21.1) stores that setting but never applies it.
//! With `media.bind_ip` unspecified (`0.0.0.0`, `::`) the stack gathers one host candidate per
//! usable interface address (loopback and link-local skipped); on a host with none it falls back
//! to the wildcard itself, and a candidate naming `0.0.0.0` or `::` is withheld: no site could use it.
//! `::` is a dual-stack socket, so the stack gathers the interfaces of both families for it.

use rtc::peer_connection::transport::{RTCIceCandidate, RTCIceCandidateType, RTCIceProtocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// What the server's host candidates must say: the shared port, and the public addresses that
/// replace the local ones behind a 1:1 NAT (none: the local address is announced).
#[derive(Debug, Clone, Default)]
pub struct Announce {
    pub port: u16,
    pub nat: Arc<[IpAddr]>,
}

/// What becomes of a host candidate's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Address {
    /// Announced as gathered.
    Keep,
    /// Announced as this address instead (1:1 NAT).
    Replace(IpAddr),
    /// Not announced: the unspecified address, which no site can send to.
    Withhold,
}

impl Announce {
    /// What to announce for the local address `ip`: the first NAT address of the same family
    /// when there is one, else `ip` itself unless it is unspecified (a name is kept as is).
    fn address(&self, ip: &str) -> Address {
        let Ok(ip) = ip.parse::<IpAddr>() else {
            return Address::Keep;
        };
        match self.nat.iter().find(|n| n.is_ipv4() == ip.is_ipv4()) {
            Some(nat) => Address::Replace(*nat),
            None if ip.is_unspecified() => Address::Withhold,
            None => Address::Keep,
        }
    }
}

/// The addresses host candidates come from (port 0) for a media socket bound to `bind`: `bind`
/// itself, expanded when unspecified into the usable interface addresses of its family
/// ([`host_ips`]), except that `::` (a dual-stack socket, receiving IPv4 too) takes the
/// interfaces of both families.
pub fn gather_from(bind: IpAddr) -> Vec<SocketAddr> {
    match bind {
        IpAddr::V6(ip) if ip.is_unspecified() => vec![
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        ],
        ip => vec![SocketAddr::new(ip, 0)],
    }
}

/// The host addresses of a connection driven without a socket of its own (the media driver's)
/// for a media socket bound to `bind`, given the interfaces' addresses: `bind` itself when it is
/// a concrete address; else every usable address of the families [`gather_from`] names (no
/// loopback, unspecified or link-local address: no site could use it), once each.
pub fn host_ips(bind: IpAddr, interfaces: &[IpAddr]) -> Vec<IpAddr> {
    if !bind.is_unspecified() {
        return vec![bind];
    }
    let mut out = Vec::new();
    for family in gather_from(bind) {
        for ip in interfaces {
            let link_local = match ip {
                IpAddr::V4(v4) => v4.is_link_local(),
                IpAddr::V6(v6) => v6.is_unicast_link_local(),
            };
            if ip.is_ipv4() == family.is_ipv4()
                && !ip.is_loopback()
                && !ip.is_unspecified()
                && !link_local
                && !out.contains(ip)
            {
                out.push(*ip);
            }
        }
    }
    out
}

/// The local ICE ufrag and password of a session description (`a=ice-ufrag`, `a=ice-pwd`; with
/// BUNDLE every section carries the same pair, so the first of each is taken).
pub fn ice_credentials(sdp: &str) -> Option<(&str, &str)> {
    let attr = |name: &str| {
        sdp.lines()
            .find_map(|l| l.trim_end().strip_prefix(name))
            .filter(|v| !v.is_empty())
    };
    Some((attr("a=ice-ufrag:")?, attr("a=ice-pwd:")?))
}

/// The candidates of a session description, as trickled (`candidate:…`): the first
/// component's, once each (with BUNDLE and rtcp-mux one component of one section carries all).
pub fn candidates(sdp: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in sdp
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("a=candidate:"))
    {
        let component = value.split_whitespace().nth(1);
        let line = format!("candidate:{value}");
        if component == Some("1") && !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// `sdp` with every UDP host candidate line announcing `to` (see [`rewrite_candidate_line`]);
/// a withheld candidate's line is left out.
pub fn rewrite_sdp(sdp: &str, to: &Announce) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        match body.strip_prefix("a=candidate:") {
            Some(c) => {
                if let Some(c) = rewrite_candidate_line(c, to) {
                    out.push_str("a=candidate:");
                    out.push_str(&c);
                    out.push_str(&line[body.len()..]);
                }
            }
            None => out.push_str(line),
        }
    }
    out
}

/// One candidate attribute value (`foundation component transport priority ip port typ kind
/// …`) with the port (and, behind a 1:1 NAT, the address) replaced when it is a UDP host
/// candidate, `None` when it names the unspecified address (not to be announced); anything
/// else is returned as is.
pub fn rewrite_candidate_line(c: &str, to: &Announce) -> Option<String> {
    let fields: Vec<&str> = c.split(' ').collect();
    let host_udp = fields.len() >= 8
        && fields[2].eq_ignore_ascii_case("udp")
        && fields[6] == "typ"
        && fields[7] == "host"
        && fields[5].parse::<u16>().is_ok();
    if !host_udp {
        return Some(c.to_owned());
    }
    let address = match to.address(fields[4]) {
        Address::Keep => None,
        Address::Replace(a) => Some(a.to_string()),
        Address::Withhold => return None,
    };
    let port = to.port.to_string();
    let mut out = fields.clone();
    out[5] = &port;
    if let Some(a) = &address {
        out[4] = a;
    }
    Some(out.join(" "))
}

/// A trickled candidate, rewritten the same way; false: it must not be announced.
pub fn rewrite_candidate(c: &mut RTCIceCandidate, to: &Announce) -> bool {
    if c.protocol == RTCIceProtocol::Udp && c.typ == RTCIceCandidateType::Host {
        match to.address(&c.address) {
            Address::Keep => {}
            Address::Replace(a) => c.address = a.to_string(),
            Address::Withhold => return false,
        }
        c.port = to.port;
    }
    true
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_wildcard_bind_names_each_usable_interface_address_of_its_families() {
        let ips = |v: &[&str]| {
            v.iter()
                .map(|s| s.parse().unwrap())
                .collect::<Vec<IpAddr>>()
        };
        let interfaces = ips(&[
            "127.0.0.1",
            "10.77.0.1",
            "169.254.3.4",
            "10.78.0.1",
            "::1",
            "fe80::1",
            "fd77::1",
            "10.77.0.1",
        ]);
        let bind = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            host_ips(bind("0.0.0.0"), &interfaces),
            ips(&["10.77.0.1", "10.78.0.1"])
        );
        assert_eq!(
            host_ips(bind("::"), &interfaces),
            ips(&["10.77.0.1", "10.78.0.1", "fd77::1"]),
            "dual-stack: both families"
        );
        assert_eq!(
            host_ips(bind("127.0.0.1"), &interfaces),
            ips(&["127.0.0.1"])
        );
        assert_eq!(host_ips(bind("10.78.0.1"), &[]), ips(&["10.78.0.1"]));
        assert!(host_ips(bind("0.0.0.0"), &ips(&["127.0.0.1"])).is_empty());
    }

    #[test]
    fn the_candidates_of_a_description_are_its_first_components_once_each() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=candidate:1 1 udp 2130706431 10.0.0.5 4000 typ host\r\n\
            a=candidate:1 2 udp 2130706431 10.0.0.5 4000 typ host\r\n\
            a=candidate:2 1 udp 2130706431 fd00::5 4000 typ host\r\n\
            a=end-of-candidates\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
            a=candidate:1 1 udp 2130706431 10.0.0.5 4000 typ host\r\n";
        assert_eq!(
            candidates(sdp),
            [
                "candidate:1 1 udp 2130706431 10.0.0.5 4000 typ host",
                "candidate:2 1 udp 2130706431 fd00::5 4000 typ host"
            ]
        );
        assert!(candidates("v=0\r\n").is_empty());
    }

    use super::*;

    const SDP: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:AbCd\r\na=ice-pwd:secretsecretsecretsecret\r\n\
        a=candidate:1 1 udp 2130706431 127.0.0.1 41234 typ host\r\n\
        a=candidate:2 1 udp 1694498815 203.0.113.9 5000 typ srflx raddr 127.0.0.1 rport 41234\r\n\
        a=candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active\r\n\
        a=end-of-candidates\r\n";

    #[test]
    fn a_dual_stack_wildcard_gathers_both_families() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            gather_from("::".parse().unwrap()),
            [at("0.0.0.0:0"), at("[::]:0")]
        );
        assert_eq!(gather_from("0.0.0.0".parse().unwrap()), [at("0.0.0.0:0")]);
        assert_eq!(
            gather_from("10.77.0.1".parse().unwrap()),
            [at("10.77.0.1:0")]
        );
        assert_eq!(gather_from("fd77::1".parse().unwrap()), [at("[fd77::1]:0")]);
        assert_eq!(gather_from("::1".parse().unwrap()), [at("[::1]:0")]);
    }

    #[test]
    fn reads_the_local_credentials() {
        assert_eq!(
            ice_credentials(SDP),
            Some(("AbCd", "secretsecretsecretsecret"))
        );
        assert_eq!(ice_credentials("v=0\r\na=ice-ufrag:x\r\n"), None);
        assert_eq!(
            ice_credentials("v=0\r\na=ice-ufrag:\r\na=ice-pwd:p\r\n"),
            None
        );
    }

    fn to(port: u16) -> Announce {
        Announce {
            port,
            nat: Arc::from([]),
        }
    }

    #[test]
    fn rewrites_only_udp_host_candidates() {
        let out = rewrite_sdp(SDP, &to(50000));
        assert!(out.contains("a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n"));
        assert!(out.contains("203.0.113.9 5000 typ srflx raddr 127.0.0.1 rport 41234\r\n"));
        assert!(out.contains("127.0.0.1 9 typ host tcptype active\r\n"));
        assert!(!out.contains("41234 typ host"));
        assert_eq!(out.len(), SDP.len());
        assert_eq!(rewrite_sdp(SDP, &to(9)).len(), SDP.len() - 4);
        assert_eq!(
            rewrite_sdp("a=candidate:garbage\n", &to(1)),
            "a=candidate:garbage\n"
        );
        assert_eq!(
            rewrite_candidate_line("1 1 udp 1 127.0.0.1 x typ host", &to(1)).as_deref(),
            Some("1 1 udp 1 127.0.0.1 x typ host"),
            "not a port: not a candidate to rewrite"
        );
    }

    #[test]
    fn behind_a_1to1_nat_host_candidates_announce_the_public_address_of_their_family() {
        let nat = Announce {
            port: 50000,
            nat: Arc::from([
                "2001:db8::7".parse().unwrap(),
                "198.51.100.7".parse().unwrap(),
            ]),
        };
        let out = rewrite_sdp(SDP, &nat);
        assert!(out.contains("a=candidate:1 1 udp 2130706431 198.51.100.7 50000 typ host\r\n"));
        assert!(!out.contains("127.0.0.1 50000"));
        assert!(out.contains("203.0.113.9 5000 typ srflx raddr 127.0.0.1 rport 41234\r\n"));
        assert!(out.contains("127.0.0.1 9 typ host tcptype active\r\n"));
        let v6 = rewrite_candidate_line("1 1 udp 2130706431 fd00::1 41234 typ host", &nat);
        assert_eq!(
            v6.as_deref(),
            Some("1 1 udp 2130706431 2001:db8::7 50000 typ host")
        );
        let only_v4 = Announce {
            port: 50000,
            nat: Arc::from(["198.51.100.7".parse().unwrap()]),
        };
        let kept = rewrite_candidate_line("1 1 udp 2130706431 fd00::1 41234 typ host", &only_v4);
        assert_eq!(
            kept.as_deref(),
            Some("1 1 udp 2130706431 fd00::1 50000 typ host"),
            "no public IPv6 given"
        );
        let named = rewrite_candidate_line("1 1 udp 1 abc.local 41234 typ host", &only_v4);
        assert_eq!(
            named.as_deref(),
            Some("1 1 udp 1 abc.local 50000 typ host"),
            "a name is not an address"
        );
        let mut c = RTCIceCandidate {
            protocol: RTCIceProtocol::Udp,
            typ: RTCIceCandidateType::Host,
            address: "10.0.0.5".into(),
            port: 41234,
            ..Default::default()
        };
        assert!(rewrite_candidate(&mut c, &only_v4));
        assert_eq!((c.address.as_str(), c.port), ("198.51.100.7", 50000));
        // Behind a NAT even a wildcard-bound host (no usable interface) has an address to give.
        let wild = rewrite_candidate_line("1 1 udp 2130706431 0.0.0.0 41234 typ host", &only_v4);
        assert_eq!(
            wild.as_deref(),
            Some("1 1 udp 2130706431 198.51.100.7 50000 typ host")
        );
    }

    /// On a wildcard bind with no usable interface the stack names the wildcard itself; no site
    /// can send there, so such a candidate never leaves, in a description or trickled.
    #[test]
    fn a_candidate_naming_the_unspecified_address_is_withheld() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
            a=candidate:1 1 udp 2130706431 0.0.0.0 41234 typ host\r\n\
            a=candidate:2 1 udp 2130706431 10.77.0.1 41235 typ host\r\n\
            a=candidate:3 1 udp 2130706431 :: 41236 typ host\r\n\
            a=end-of-candidates\r\n";
        let out = rewrite_sdp(sdp, &to(50000));
        assert_eq!(
            out,
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
            a=candidate:2 1 udp 2130706431 10.77.0.1 50000 typ host\r\n\
            a=end-of-candidates\r\n",
            "the connection line's 0.0.0.0 is not a candidate and stays"
        );
        for address in ["0.0.0.0", "::", "0:0:0:0:0:0:0:0"] {
            let mut c = RTCIceCandidate {
                protocol: RTCIceProtocol::Udp,
                typ: RTCIceCandidateType::Host,
                address: address.into(),
                port: 41234,
                ..Default::default()
            };
            assert!(!rewrite_candidate(&mut c, &to(50000)), "{address}");
            assert_eq!(c.port, 41234, "a withheld candidate is left as it was");
        }
        let mut relay = RTCIceCandidate {
            protocol: RTCIceProtocol::Udp,
            typ: RTCIceCandidateType::Relay,
            address: "0.0.0.0".into(),
            port: 3478,
            ..Default::default()
        };
        assert!(
            rewrite_candidate(&mut relay, &to(50000)),
            "not ours to judge"
        );
    }

    #[test]
    fn rewrites_a_trickled_host_candidate() {
        let mut c = RTCIceCandidate {
            protocol: RTCIceProtocol::Udp,
            typ: RTCIceCandidateType::Host,
            port: 41234,
            ..Default::default()
        };
        c.address = "10.77.0.1".into();
        assert!(rewrite_candidate(&mut c, &to(50000)));
        assert_eq!((c.address.as_str(), c.port), ("10.77.0.1", 50000));
        c.typ = RTCIceCandidateType::Relay;
        c.port = 3478;
        assert!(rewrite_candidate(&mut c, &to(50000)));
        assert_eq!(c.port, 3478);
    }
}
