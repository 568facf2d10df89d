//! Credentials as clients send them, from raw header and query bytes; uses only std,
//! base64 and form_urlencoded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Longest credential we look at; anything longer is refused unread.
pub const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

/// How a credential was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Token <t>`
    Token,
    /// `Authorization: Bearer <t>`
    Bearer,
    /// `Authorization: Basic base64(user:<t>)`, as InfluxDB 1.x clients send it.
    Basic,
    /// `?u=<user>&p=<t>` on InfluxDB 1.x paths.
    Query,
}

/// The schemes of the management and v2 APIs.
pub const TOKEN_OR_BEARER: &[Scheme] = &[Scheme::Bearer, Scheme::Token];

impl Scheme {
    /// The scheme's word in an `Authorization` header, if it is sent there.
    fn header_word(self) -> Option<&'static str> {
        match self {
            Scheme::Token => Some("Token"),
            Scheme::Bearer => Some("Bearer"),
            Scheme::Basic => Some("Basic"),
            Scheme::Query => None,
        }
    }

    fn usage(self) -> &'static str {
        match self {
            Scheme::Token => "`Token <token>`",
            Scheme::Bearer => "`Bearer <token>`",
            Scheme::Basic => "`Basic <base64 of user:token>`",
            Scheme::Query => "`?p=<token>`",
        }
    }
}

/// A presented credential. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub scheme: Scheme,
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("scheme", &self.scheme)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why no credential could be read. None of these carry what was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("missing Authorization header")]
    Missing,
    #[error("Authorization header is too long")]
    TooLong,
    /// Not visible ASCII.
    #[error("malformed Authorization header")]
    NotText,
    #[error("unsupported authorization scheme; use {}", usage(.accepted))]
    UnsupportedScheme { accepted: &'static [Scheme] },
    #[error("Authorization header has no token")]
    NoToken,
    #[error("malformed Basic credentials; send the base64 of `user:token`")]
    MalformedBasic,
    #[error("the p query parameter is too long")]
    QueryTooLong,
    #[error("the p query parameter is not valid UTF-8")]
    QueryNotText,
    #[error("the p query parameter has no token")]
    QueryNoToken,
    #[error("the p query parameter is sent more than once with different tokens; send one")]
    QueryTwoTokens,
}

/// "`Bearer <token>` or `Token <token>`", for the schemes sent in a header.
fn usage(accepted: &[Scheme]) -> String {
    let words: Vec<&str> = accepted.iter().map(|s| s.usage()).collect();
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The credential of an `Authorization` header value whose scheme is one of `accepted`
/// (case-insensitive).
pub fn from_header(
    value: Option<&[u8]>,
    accepted: &'static [Scheme],
) -> Result<Credential, CredentialError> {
    let value = value.ok_or(CredentialError::Missing)?;
    if value.len() > MAX_CREDENTIAL_BYTES {
        return Err(CredentialError::TooLong);
    }
    // What `HeaderValue::to_str` accepts: visible ASCII and tab.
    if !value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Err(CredentialError::NotText);
    }
    let text = std::str::from_utf8(value).map_err(|_| CredentialError::NotText)?;
    let text = text.trim();
    let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
    let scheme = accepted
        .iter()
        .copied()
        .find(|s| {
            s.header_word()
                .is_some_and(|w| w.eq_ignore_ascii_case(word))
        })
        .ok_or(CredentialError::UnsupportedScheme { accepted })?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(CredentialError::NoToken);
    }
    let secret = match scheme {
        Scheme::Basic => basic_password(rest)?,
        _ => rest.to_owned(),
    };
    Ok(Credential { scheme, secret })
}

/// The password of `base64(user:password)`; the user name is ignored, as InfluxDB does.
fn basic_password(encoded: &str) -> Result<String, CredentialError> {
    let decoded = STANDARD
        .decode(encoded)
        .map_err(|_| CredentialError::MalformedBasic)?;
    let decoded = String::from_utf8(decoded).map_err(|_| CredentialError::MalformedBasic)?;
    let (_, password) = decoded
        .split_once(':')
        .ok_or(CredentialError::MalformedBasic)?;
    if password.is_empty() {
        return Err(CredentialError::NoToken);
    }
    Ok(password.to_owned())
}

/// The token of InfluxDB 1.x's `p=` query parameter (`u=` is ignored); `None` without one.
/// Keys are decoded as InfluxDB decodes them (`%70=` is `p`); a `p` sent twice must name
/// one token, as InfluxDB (Go) reads the first and IOx refuses a repeated one.
pub fn from_query(query: &str) -> Result<Option<Credential>, CredentialError> {
    let mut found: Option<String> = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key != "p" {
            continue;
        }
        if value.len() > MAX_CREDENTIAL_BYTES {
            return Err(CredentialError::QueryTooLong);
        }
        // The decoder replaces bytes that are not UTF-8; no token holds the replacement.
        if value.contains(char::REPLACEMENT_CHARACTER) {
            return Err(CredentialError::QueryNotText);
        }
        if value.is_empty() {
            return Err(CredentialError::QueryNoToken);
        }
        match &found {
            None => found = Some(value.into_owned()),
            Some(first) if *first != value => return Err(CredentialError::QueryTwoTokens),
            Some(_) => {}
        }
    }
    Ok(found.map(|secret| Credential {
        scheme: Scheme::Query,
        secret,
    }))
}

/// The credential of a request: its `Authorization` header when it has one, else (when
/// `accepted` includes [`Scheme::Query`]) its `p=` parameter.
pub fn from_request(
    header: Option<&[u8]>,
    query: Option<&str>,
    accepted: &'static [Scheme],
) -> Result<Credential, CredentialError> {
    if header.is_some() || !accepted.contains(&Scheme::Query) {
        return from_header(header, accepted);
    }
    query
        .map(from_query)
        .transpose()?
        .flatten()
        .ok_or(CredentialError::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "apiv1_0123456789abcdefSECRETSECRET";

    fn header(value: &str) -> Result<Credential, CredentialError> {
        from_header(Some(value.as_bytes()), TOKEN_OR_BEARER)
    }

    const ALL: &[Scheme] = &[Scheme::Bearer, Scheme::Token, Scheme::Basic, Scheme::Query];

    #[test]
    fn token_and_bearer_in_any_case_with_spaces_around() {
        for (value, scheme) in [
            (format!("Token {SECRET}"), Scheme::Token),
            (format!("token {SECRET}"), Scheme::Token),
            (format!("Bearer {SECRET}"), Scheme::Bearer),
            (format!("  BEARER   {SECRET}  "), Scheme::Bearer),
        ] {
            let credential = header(&value).unwrap();
            assert_eq!(credential.scheme, scheme, "{value}");
            assert_eq!(credential.secret, SECRET);
        }
    }

    #[test]
    fn malformed_headers_say_why_without_the_secret() {
        assert_eq!(
            from_header(None, TOKEN_OR_BEARER),
            Err(CredentialError::Missing)
        );
        assert_eq!(header("Bearer"), Err(CredentialError::NoToken));
        assert_eq!(header("Bearer    "), Err(CredentialError::NoToken));
        assert_eq!(header("Bearer \u{e9}"), Err(CredentialError::NotText));
        assert_eq!(
            header(&format!("Bearer {}", "a".repeat(MAX_CREDENTIAL_BYTES))),
            Err(CredentialError::TooLong)
        );
        let unsupported = header("Basic Zm9vOmJhcg==").unwrap_err();
        assert_eq!(
            unsupported.to_string(),
            "unsupported authorization scheme; use `Bearer <token>` or `Token <token>`"
        );
        let refused = header(&format!("Digest {SECRET}")).unwrap_err();
        assert!(!format!("{refused} {refused:?}").contains("SECRET"));
    }

    #[test]
    fn basic_carries_the_token_as_its_password() {
        let encoded = STANDARD.encode(format!("anyone:{SECRET}"));
        let credential = from_header(Some(format!("Basic {encoded}").as_bytes()), ALL).unwrap();
        assert_eq!(credential.scheme, Scheme::Basic);
        assert_eq!(credential.secret, SECRET);
        let no_user = STANDARD.encode(format!(":{SECRET}"));
        assert_eq!(
            from_header(Some(format!("basic {no_user}").as_bytes()), ALL)
                .unwrap()
                .secret,
            SECRET
        );
    }

    #[test]
    fn malformed_basic_is_refused() {
        let basic = |value: &str| from_header(Some(format!("Basic {value}").as_bytes()), ALL);
        assert_eq!(basic("not base64!"), Err(CredentialError::MalformedBasic));
        assert_eq!(
            basic(&STANDARD.encode("no colon")),
            Err(CredentialError::MalformedBasic)
        );
        assert_eq!(
            basic(&STANDARD.encode([0xff, b':', b'x'])),
            Err(CredentialError::MalformedBasic)
        );
        assert_eq!(
            basic(&STANDARD.encode("user:")),
            Err(CredentialError::NoToken)
        );
    }

    #[test]
    fn query_parameters_carry_the_token_in_p() {
        let got = from_query(&format!("db=x&u=me&p={SECRET}"))
            .unwrap()
            .unwrap();
        assert_eq!(got.scheme, Scheme::Query);
        assert_eq!(got.secret, SECRET);
        assert_eq!(from_query("p=a%2Bb+c").unwrap().unwrap().secret, "a+b c");
        // Keys are decoded too: `%70` is `p`.
        assert_eq!(
            from_query(&format!("db=x&%70={SECRET}"))
                .unwrap()
                .unwrap()
                .secret,
            SECRET
        );
        assert_eq!(from_query("p=same&p=same").unwrap().unwrap().secret, "same");
        assert_eq!(from_query("p=100%").unwrap().unwrap().secret, "100%");
        assert_eq!(from_query("db=x&u=me").unwrap(), None);
        assert_eq!(from_query("").unwrap(), None);
    }

    #[test]
    fn malformed_query_parameters_are_refused() {
        assert_eq!(from_query("p="), Err(CredentialError::QueryNoToken));
        assert_eq!(from_query("p"), Err(CredentialError::QueryNoToken));
        assert_eq!(from_query("p=%ff"), Err(CredentialError::QueryNotText));
        assert_eq!(
            from_query("p=first&%70=second"),
            Err(CredentialError::QueryTwoTokens)
        );
        let two = from_query(&format!("p={SECRET}&p=other")).unwrap_err();
        assert!(!format!("{two} {two:?}").contains("SECRET"));
        assert_eq!(
            from_query(&format!("p={}", "a".repeat(MAX_CREDENTIAL_BYTES + 1))),
            Err(CredentialError::QueryTooLong)
        );
    }

    #[test]
    fn the_header_wins_over_the_query_and_the_query_counts_only_when_accepted() {
        let query = Some("p=from-query");
        let got = from_request(Some(b"Token from-header"), query, ALL).unwrap();
        assert_eq!(got.secret, "from-header");
        assert_eq!(from_request(None, query, ALL).unwrap().secret, "from-query");
        assert_eq!(
            from_request(None, query, TOKEN_OR_BEARER),
            Err(CredentialError::Missing)
        );
        assert_eq!(
            from_request(None, Some("u=me"), ALL),
            Err(CredentialError::Missing)
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let credential = header(&format!("Token {SECRET}")).unwrap();
        let shown = format!("{credential:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("Token"), "{shown}");
    }
}
