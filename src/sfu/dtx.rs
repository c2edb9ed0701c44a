//! Opus DTX for publishers, pure: the server's answer to a publish offer asks the site to send
//! audio discontinuously (`usedtx=1`, RFC 7587 §6.1: the receiver's preference, which the
//! sender's encoder follows). A page whose microphone is muted (its track disabled) then sends
//! one silence packet every 400 ms instead of fifty a second, so the 150 muted communes of a
//! city-wide briefing cost the server a few hundred packets a second, not 7,500. The webrtc stack
//! answers with the offer's own Opus parameters, so the answer is amended here, as text.

/// `sdp` with `usedtx=1` in the format parameters of every Opus payload type (added to its
/// `a=fmtp` line, or as a new one after its `a=rtpmap` line); anything else is left as it is.
pub fn with_opus_dtx(sdp: &str) -> String {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let opus: Vec<&str> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter_map(|rest| rest.split_once(' '))
        .filter(|(_, codec)| codec.to_ascii_lowercase().starts_with("opus/"))
        .map(|(pt, _)| pt)
        .collect();
    if opus.is_empty() {
        return sdp.to_owned();
    }
    let has_fmtp = |pt: &str| {
        sdp.lines().any(|l| {
            l.strip_prefix("a=fmtp:")
                .and_then(|r| r.split_once(' '))
                .is_some_and(|(p, _)| p == pt)
        })
    };
    let mut out = String::with_capacity(sdp.len() + 16 * opus.len());
    for line in sdp.lines() {
        if let Some((pt, params)) = line.strip_prefix("a=fmtp:").and_then(|r| r.split_once(' '))
            && opus.contains(&pt)
            && !params.split(';').any(|p| p.trim().starts_with("usedtx="))
        {
            out.push_str(line);
            out.push_str(";usedtx=1");
        } else {
            out.push_str(line);
        }
        out.push_str(eol);
        if let Some((pt, _)) = line
            .strip_prefix("a=rtpmap:")
            .and_then(|r| r.split_once(' '))
            && opus.contains(&pt)
            && !has_fmtp(pt)
        {
            out.push_str(&format!("a=fmtp:{pt} usedtx=1{eol}"));
        }
    }
    if !sdp.ends_with('\n') {
        out.truncate(out.len() - eol.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=fmtp:96 x=1\r\n";

    #[test]
    fn opus_gets_usedtx_and_nothing_else_changes() {
        let out = with_opus_dtx(ANSWER);
        assert_eq!(
            out,
            ANSWER.replace(
                "a=fmtp:111 minptime=10;useinbandfec=1\r\n",
                "a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n"
            )
        );
        // Idempotent: an answer that already says it is not changed.
        assert_eq!(with_opus_dtx(&out), out);
    }

    #[test]
    fn an_opus_payload_type_without_fmtp_gets_one() {
        let sdp = "m=audio 9 RTP/SAVPF 109\na=rtpmap:109 OPUS/48000/2\na=mid:0\n";
        assert_eq!(
            with_opus_dtx(sdp),
            "m=audio 9 RTP/SAVPF 109\na=rtpmap:109 OPUS/48000/2\na=fmtp:109 usedtx=1\na=mid:0\n"
        );
    }

    #[test]
    fn without_opus_or_with_garbage_the_text_is_kept() {
        for sdp in [
            "",
            "garbage",
            "a=rtpmap:\r\n",
            "m=video 9 X 96\r\na=rtpmap:96 VP8/90000",
        ] {
            assert_eq!(with_opus_dtx(sdp), sdp);
        }
        // An fmtp of another payload type is not touched.
        let sdp = "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 usedtx=0\r\na=fmtp:112 a=1\r\n";
        assert_eq!(with_opus_dtx(sdp), sdp);
    }
}
