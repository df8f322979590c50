//! What may be shown of a URL that is itself a credential.
//!
//! Incoming-webhook URLs (Slack, Teams, Power Automate, Discord…) carry their secret in the
//! path, others in the query or the user info. A masked URL keeps what tells one endpoint
//! from another — scheme, host, port — and at most the first path segment when it is a
//! plain word (`services`, `webhookb2`, `v1`): `https://hooks.slack.com/services/***`. It is
//! what the API returns, the audit trail records and the logs show.

/// Longest first path segment shown.
const MAX_WORD: usize = 16;

/// `url` masked: scheme, host, port and the first path segment when it is a plain word,
/// the rest of the path as `***`; never user info, query or fragment. `<invalid url>` when
/// it does not parse.
pub fn masked_url(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return "<invalid url>".into();
    };
    let Some(host) = parsed.host_str() else {
        return format!("{}:***", parsed.scheme());
    };
    let origin = match parsed.port() {
        Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
        None => format!("{}://{host}", parsed.scheme()),
    };
    let segments: Vec<&str> = parsed
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    match segments.as_slice() {
        [] => format!("{origin}/"),
        [first, _, ..] if plain_word(first) => format!("{origin}/{first}/***"),
        _ => format!("{origin}/***"),
    }
}

/// Lowercase ASCII letters, then optionally digits (`services`, `webhookb2`, `v1`): the shape
/// of a route, not of a random token (mixed case, letters after digits, or long).
fn plain_word(segment: &str) -> bool {
    let letters = segment.trim_end_matches(|c: char| c.is_ascii_digit());
    !letters.is_empty()
        && segment.len() <= MAX_WORD
        && letters.bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::masked_url;

    #[test]
    fn only_scheme_host_port_and_a_route_word_are_shown() {
        for (url, shown) in [
            (
                "https://hooks.slack.com/services/T0/B0/SECRET",
                "https://hooks.slack.com/services/***",
            ),
            (
                "http://user:pass@host.example:8443/services/T0/B0/SECRET?token=abc#frag",
                "http://host.example:8443/services/***",
            ),
            (
                "https://acme.webhook.office.com/webhookb2/1f0e@2a/IncomingWebhook/9c/7d",
                "https://acme.webhook.office.com/webhookb2/***",
            ),
            ("https://acme.atlassian.net", "https://acme.atlassian.net/"),
            (
                "https://acme.atlassian.net/?x=1",
                "https://acme.atlassian.net/",
            ),
            // A single segment, or a first one shaped like a token, is masked whole.
            ("https://h.example/hook", "https://h.example/***"),
            ("https://h.example/Xk3jQ9/hook", "https://h.example/***"),
            ("https://h.example/abc123def/hook", "https://h.example/***"),
            (
                "https://h.example/abcdefghijklmnopq/hook",
                "https://h.example/***",
            ),
            ("http://[::1]:8080/a/b", "http://[::1]:8080/a/***"),
            ("::", "<invalid url>"),
            ("mailto:soc@example.com", "mailto:***"),
        ] {
            assert_eq!(masked_url(url), shown, "{url}");
        }
    }
}
