//! Token strings: `<kind prefix><id: 16 hex><secret: 43 base64url><checksum: 8 hex>`.
//!
//! The id makes a well-formed token findable by one indexed read; the CRC32 checksum lets a
//! mistyped or forged string be refused with no I/O and lets secret scanners recognise it.
//! The checksum is not a security control: the 256-bit secret is.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRng;

use super::{TokenId, TokenKind};

const ID_LEN: usize = 16;
const SECRET_BYTES: usize = 32;
const SECRET_LEN: usize = 43;
const CHECKSUM_LEN: usize = 8;
/// Length of the part after the kind prefix.
pub const BODY_LEN: usize = ID_LEN + SECRET_LEN + CHECKSUM_LEN;
/// How much of a token is kept in clear as its display prefix (kind prefix + 4 id chars).
const DISPLAY_EXTRA: usize = 4;

/// A freshly minted token. `plain` is shown to the caller once and never stored.
pub struct MintedToken {
    pub id: TokenId,
    pub plain: String,
}

impl std::fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken")
            .field("id", &self.id)
            .field("plain", &"<redacted>")
            .finish()
    }
}

/// What a well-formed token string tells before any lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedToken {
    pub kind: TokenKind,
    pub id: TokenId,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("the token has no known prefix")]
    UnknownPrefix,
    #[error("the token has the wrong length")]
    Length,
    #[error("the token contains characters outside its alphabet")]
    Alphabet,
    #[error("the token checksum does not match")]
    Checksum,
}

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomnessError;

/// Fills `buf` from the OS CSPRNG.
pub fn os_random(buf: &mut [u8]) -> Result<(), RandomnessError> {
    rand::rngs::SysRng
        .try_fill_bytes(buf)
        .map_err(|_| RandomnessError)
}

/// Mints a new token of `kind` with a fresh random id and secret.
pub fn mint(kind: TokenKind) -> Result<MintedToken, RandomnessError> {
    let id = TokenId::random()?;
    let mut secret = [0u8; SECRET_BYTES];
    os_random(&mut secret)?;
    let mut plain = String::with_capacity(kind.prefix().len() + BODY_LEN);
    plain.push_str(kind.prefix());
    plain.push_str(id.as_str());
    URL_SAFE_NO_PAD.encode_string(secret, &mut plain);
    let checksum = crc32fast::hash(plain.as_bytes());
    plain.push_str(&format!("{checksum:08x}"));
    Ok(MintedToken { id, plain })
}

/// Checks prefix, length, alphabet and checksum. No I/O, no hashing.
pub fn parse(token: &str) -> Result<ParsedToken, FormatError> {
    let (kind, _) = parse_key(token)?;
    let id = &token[kind.prefix().len()..kind.prefix().len() + ID_LEN];
    let id = TokenId::parse(id).map_err(|_| FormatError::Alphabet)?;
    Ok(ParsedToken { kind, id })
}

/// As [`parse`], returning the id as a number and allocating nothing: the verified-token
/// cache's key, read on every data-path check.
pub fn parse_key(token: &str) -> Result<(TokenKind, u64), FormatError> {
    let kind = TokenKind::from_token(token).ok_or(FormatError::UnknownPrefix)?;
    let body = &token[kind.prefix().len()..];
    if body.len() != BODY_LEN {
        return Err(FormatError::Length);
    }
    // Byte offsets below are character boundaries only for ASCII.
    if !body.is_ascii() {
        return Err(FormatError::Alphabet);
    }
    let (id, rest) = body.split_at(ID_LEN);
    let (secret, checksum) = rest.split_at(SECRET_LEN);
    if !is_lower_hex(id) || !is_lower_hex(checksum) {
        return Err(FormatError::Alphabet);
    }
    let mut decoded = [0u8; SECRET_BYTES + 2];
    match URL_SAFE_NO_PAD.decode_slice(secret, &mut decoded) {
        Ok(SECRET_BYTES) => {}
        _ => return Err(FormatError::Alphabet),
    }
    let signed = &token[..token.len() - CHECKSUM_LEN];
    let expected = u32::from_str_radix(checksum, 16).map_err(|_| FormatError::Alphabet)?;
    if crc32fast::hash(signed.as_bytes()) != expected {
        return Err(FormatError::Checksum);
    }
    let key = u64::from_str_radix(id, 16).map_err(|_| FormatError::Alphabet)?;
    Ok((kind, key))
}

/// The part of a token kept in clear for display, e.g. `M.V1.3fa0`.
pub fn display_prefix(kind: TokenKind, id: &TokenId) -> String {
    format!("{}{}", kind.prefix(), &id.as_str()[..DISPLAY_EXTRA])
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_parses_back_to_its_kind_and_id() {
        for kind in [TokenKind::Database, TokenKind::Management] {
            let minted = mint(kind).unwrap();
            assert!(minted.plain.starts_with(kind.prefix()));
            assert!(minted.plain.len() - kind.prefix().len() >= 64);
            let parsed = parse(&minted.plain).unwrap();
            assert_eq!(
                parsed,
                ParsedToken {
                    kind,
                    id: minted.id
                }
            );
        }
    }

    #[test]
    fn a_single_changed_character_fails_the_checksum() {
        let minted = mint(TokenKind::Database).unwrap();
        let mut bytes = minted.plain.clone().into_bytes();
        let i = 6 + ID_LEN + 5;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        assert_eq!(parse(&altered), Err(FormatError::Checksum));
    }

    #[test]
    fn truncated_foreign_and_garbage_strings_are_refused() {
        let minted = mint(TokenKind::Management).unwrap();
        assert_eq!(
            parse(&minted.plain[..minted.plain.len() - 1]),
            Err(FormatError::Length)
        );
        assert_eq!(parse("apiv3_abc"), Err(FormatError::UnknownPrefix));
        assert_eq!(parse(""), Err(FormatError::UnknownPrefix));
        let spaced = format!("apiv1_{}", " ".repeat(BODY_LEN));
        assert_eq!(parse(&spaced), Err(FormatError::Alphabet));
        // Multi-byte characters across every split point are refused, never a panic.
        for at in 0..BODY_LEN - 1 {
            let body = format!("{}é{}", "a".repeat(at), "a".repeat(BODY_LEN - 2 - at));
            assert_eq!(parse(&format!("apiv1_{body}")), Err(FormatError::Alphabet));
        }
    }

    #[test]
    fn the_display_prefix_is_the_kind_prefix_and_four_id_characters() {
        let id = TokenId::parse("3fa0000000000001").unwrap();
        assert_eq!(display_prefix(TokenKind::Management, &id), "M.V1.3fa0");
    }
}

/// `text` with anything shaped like a credential (a token of either kind, a JWT) replaced,
/// so an error message never hands a pasted secret back or into a client's logs.
pub fn redact_credentials(text: &str) -> std::borrow::Cow<'_, str> {
    const STARTS: [&str; 3] = ["apiv1_", "M.V1.", "eyJ"];
    if !STARTS.iter().any(|s| text.contains(s)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, start)) = STARTS
        .iter()
        .filter_map(|s| rest.find(s).map(|at| (at, *s)))
        .min_by_key(|(at, _)| *at)
    {
        out.push_str(&rest[..at]);
        let tail = &rest[at + start.len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')))
            .unwrap_or(tail.len());
        out.push_str("<redacted>");
        rest = &tail[end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod redaction {
    use super::redact_credentials;

    #[test]
    fn credentials_in_a_message_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_credentials("organization name \"M.V1.0123abc_-xyz\" not found"),
            "organization name \"<redacted>\" not found"
        );
        assert_eq!(
            redact_credentials("unknown variant `apiv1_00ff`, expected `read` or eyJhb.eyJ.sig"),
            "unknown variant `<redacted>`, expected `read` or <redacted>"
        );
        assert_eq!(redact_credentials("nothing secret"), "nothing secret");
    }
}
