//! What the server tells sites about its side of ICE when every connection shares one UDP port:
//! each connection's host candidates carry the port its stack bound internally, and are rewritten
//! to the shared port before they leave (in trickled candidates and in the candidate lines of an
//! offer or answer); the local ICE credentials are read from the description the server sends,
//! so that the shared socket can route a site's first checks to the right connection (and the
//! new ufrag after an ICE restart, whose offer or answer goes out the same way).

use rtc::peer_connection::transport::{RTCIceCandidate, RTCIceCandidateType, RTCIceProtocol};

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

/// `sdp` with the port of every UDP host candidate line replaced by `port`.
pub fn rewrite_sdp(sdp: &str, port: u16) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        match body.strip_prefix("a=candidate:") {
            Some(c) => {
                out.push_str("a=candidate:");
                out.push_str(&rewrite_candidate_line(c, port));
                out.push_str(&line[body.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// One candidate attribute value (`foundation component transport priority ip port typ kind
/// …`) with the port replaced when it is a UDP host candidate; anything else is returned as is.
pub fn rewrite_candidate_line(c: &str, port: u16) -> String {
    let fields: Vec<&str> = c.split(' ').collect();
    let host_udp = fields.len() >= 8
        && fields[2].eq_ignore_ascii_case("udp")
        && fields[6] == "typ"
        && fields[7] == "host"
        && fields[5].parse::<u16>().is_ok();
    if !host_udp {
        return c.to_owned();
    }
    let port = port.to_string();
    let mut out = fields.clone();
    out[5] = &port;
    out.join(" ")
}

/// A trickled candidate, rewritten the same way.
pub fn rewrite_candidate(c: &mut RTCIceCandidate, port: u16) {
    if c.protocol == RTCIceProtocol::Udp && c.typ == RTCIceCandidateType::Host {
        c.port = port;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:AbCd\r\na=ice-pwd:secretsecretsecretsecret\r\n\
        a=candidate:1 1 udp 2130706431 127.0.0.1 41234 typ host\r\n\
        a=candidate:2 1 udp 1694498815 203.0.113.9 5000 typ srflx raddr 127.0.0.1 rport 41234\r\n\
        a=candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active\r\n\
        a=end-of-candidates\r\n";

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

    #[test]
    fn rewrites_only_udp_host_candidates() {
        let out = rewrite_sdp(SDP, 50000);
        assert!(out.contains("a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n"));
        assert!(out.contains("203.0.113.9 5000 typ srflx raddr 127.0.0.1 rport 41234\r\n"));
        assert!(out.contains("127.0.0.1 9 typ host tcptype active\r\n"));
        assert!(!out.contains("41234 typ host"));
        assert_eq!(out.len(), SDP.len());
        assert_eq!(rewrite_sdp(SDP, 9).len(), SDP.len() - 4);
        assert_eq!(
            rewrite_sdp("a=candidate:garbage\n", 1),
            "a=candidate:garbage\n"
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
        rewrite_candidate(&mut c, 50000);
        assert_eq!(c.port, 50000);
        c.typ = RTCIceCandidateType::Relay;
        c.port = 3478;
        rewrite_candidate(&mut c, 50000);
        assert_eq!(c.port, 3478);
    }
}
