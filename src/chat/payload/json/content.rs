//! `msg_content`, both ways, in one place: the object of a known type (given as an
//! object or as a string holding one), a custom one kept byte for byte, and the two shapes
//! it is written in (a published payload, and the `POST /messages` body of `chat::api`).

use super::super::PayloadError;
use crate::chat::model::{msg_type, Content};
use crate::json::{self, Doc, Id, Kind, Writer};

/// The content of a message of type `kind`; `payload` is the whole payload, from which a
/// custom message's `msg_content` is kept verbatim.
pub(super) fn decode_content(
    doc: &Doc<'_>,
    kind: i64,
    msg_content: Option<Id>,
    payload: &[u8],
) -> Result<Content, PayloadError> {
    match kind {
        msg_type::TEXT | msg_type::SYSTEM => {
            let (text, _) = body(doc, kind, msg_content, "content", false)?;
            Ok(if kind == msg_type::TEXT {
                Content::Text { text }
            } else {
                Content::System { text }
            })
        }
        msg_type::IMAGE | msg_type::VIDEO => {
            let (url, cover) = body(doc, kind, msg_content, "url", true)?;
            Ok(if kind == msg_type::IMAGE {
                Content::Image { url, cover }
            } else {
                Content::Video { url, cover }
            })
        }
        _ => {
            let verbatim = std::str::from_utf8(payload)
                .ok()
                .and_then(|text| member_text(text, "msg_content"));
            let raw = match (verbatim, msg_content) {
                (Some(text), _) => text.to_string(),
                // Unreachable for text the parser accepted; kept to never panic.
                (None, Some(value)) => {
                    let mut w = Writer::default();
                    doc.write_canonical(value, &mut w)
                        .map_err(|e| PayloadError::Json(e.to_string()))?;
                    w.out
                }
                (None, None) => "null".to_string(),
            };
            Ok(Content::Custom {
                msg_type: kind,
                raw,
            })
        }
    }
}

/// The `msg_content` object of a known message type, given as an object or as a string
/// holding one: its string field `first` (`content` or `url`) and, `with_cover`, its
/// optional `cover`. As a serde_json `Value` map holds them: a repeated key counts once,
/// the last time.
fn body(
    doc: &Doc<'_>,
    kind: i64,
    msg_content: Option<Id>,
    first: &str,
    with_cover: bool,
) -> Result<(String, Option<String>), PayloadError> {
    let bad = |reason: String| PayloadError::BadContent {
        msg_type: kind,
        reason,
    };
    let n = msg_content.ok_or(PayloadError::MissingField("msg_content"))?;
    if doc.kind(n) != Kind::Str {
        return body_fields(doc, n, first, with_cover).map_err(bad);
    }
    let text = doc.string(n).map_err(|e| bad(e.to_string()))?;
    let inner = json::parse(text.as_bytes())
        .and_then(|d| d.check_value(d.root(), 0).map(|()| d))
        .map_err(|e| bad(format!("a string that is not a JSON object ({e})")))?;
    body_fields(&inner, inner.root(), first, with_cover).map_err(bad)
}

fn body_fields(
    doc: &Doc<'_>,
    n: Id,
    first: &str,
    with_cover: bool,
) -> Result<(String, Option<String>), String> {
    if doc.kind(n) != Kind::Obj {
        return Err("not an object".to_string());
    }
    let value = doc
        .get(n, first)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("missing field `{first}`"))?;
    let value = doc.string(value).map_err(|e| e.to_string())?;
    let cover = match doc.get(n, "cover").map_err(|e| e.to_string())? {
        Some(c) if with_cover => doc
            .option(c, |c| doc.string(c))
            .map_err(|e| e.to_string())?,
        _ => None,
    };
    Ok((value, cover))
}

/// JSON's insignificant whitespace.
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The exact text of the value of the top-level member `key` of `json`, an object
/// serde_json has already accepted (so this scan need not validate). `None` if absent.
///
/// Without serde_json's `raw_value` feature this is how a custom `msg_content` is kept
/// byte for byte: re-serializing a `Value` would sort keys and round floats.
pub(super) fn member_text<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let b = json.as_bytes();
    let mut i = skip_space(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_space(b, i);
        if b.get(i) != Some(&b'"') {
            return None; // the `}` of an object without `key`
        }
        let name_end = skip_string(b, i)?;
        let name_doc = json::parse(json.get(i..name_end)?.as_bytes()).ok()?;
        let name = name_doc.string(name_doc.root()).ok()?;
        i = skip_space(b, name_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_space(b, i + 1);
        let end = skip_value(b, start)?;
        if name == key {
            return json.get(start..end);
        }
        i = skip_space(b, end);
        if b.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
    }
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while b.get(i).copied().is_some_and(is_json_space) {
        i += 1;
    }
    i
}

/// The end of the JSON value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while b
                .get(j)
                .is_some_and(|&c| !matches!(c, b',' | b'}' | b']') && !is_json_space(c))
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The end of the string whose opening quote is at `i`.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// Which of the two shapes of `msg_content` is written: a published payload's (PROTOCOL.md
/// order, no `cover` when there is none, custom content verbatim: `check_message` has
/// checked it), or the `POST /messages` body's (keys sorted and `cover: null`, as the
/// serde_json `Map` the backend was written against wrote them; custom content
/// re-written canonically).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentForm {
    Payload,
    Request,
}

/// The `msg_content` object of `content`, in one of its two shapes. Only custom content
/// in the request shape can fail (it is parsed there).
pub(crate) fn write_msg_content(
    w: &mut Writer,
    content: &Content,
    form: ContentForm,
) -> Result<(), PayloadError> {
    match content {
        Content::Text { text } | Content::System { text } => {
            w.open('{');
            w.key("content");
            w.str(text);
            w.close('}');
        }
        Content::Image { url, cover } | Content::Video { url, cover } => {
            w.open('{');
            match form {
                ContentForm::Payload => {
                    w.key("url");
                    w.str(url);
                    if let Some(cover) = cover {
                        w.key("cover");
                        w.str(cover);
                    }
                }
                ContentForm::Request => {
                    w.key("cover");
                    match cover {
                        Some(c) => w.str(c),
                        None => w.null(),
                    }
                    w.key("url");
                    w.str(url);
                }
            }
            w.close('}');
        }
        Content::Custom { raw, .. } => match form {
            ContentForm::Payload => w.raw(raw),
            ContentForm::Request => {
                let custom = |e: json::Error| PayloadError::Json(format!("custom content: {e}"));
                let doc = json::parse(raw.as_bytes()).map_err(custom)?;
                doc.check_value(doc.root(), 0).map_err(custom)?;
                doc.write_canonical(doc.root(), w).map_err(custom)?;
            }
        },
    }
    Ok(())
}

/// `raw` is one JSON value without surrounding whitespace, nested shallowly enough to
/// parse as a member of the payload object.
pub(super) fn is_single_json_value(raw: &str) -> bool {
    let trimmed = raw.as_bytes().first().is_some_and(|&b| !is_json_space(b))
        && raw.as_bytes().last().is_some_and(|&b| !is_json_space(b));
    // Parsed as a `Value` one level down, as the decoder will (`IgnoredAny` would not
    // count the depth the same way).
    trimmed
        && json::parse(format!("[{raw}]").as_bytes())
            .and_then(|d| d.check_value(d.root(), 0))
            .is_ok()
}
