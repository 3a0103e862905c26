//! Timestamp parsing (Unix seconds, milliseconds, RFC 3339), the two RFC
//! 3339 writers, signed-string templates and HubSpot's URI decoding.

use flowgate_core::{
    envelope,
    verify::scheme::{hubspot_decode, parse_template, Part, TimestampUnit},
};

/// The latest instant both RFC 3339 writers write with a four-digit year.
const MAX_RFC3339: u64 = 253_402_300_799;

const UNITS: [TimestampUnit; 3] = [TimestampUnit::Seconds, TimestampUnit::Millis, TimestampUnit::Rfc3339];

fn render(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Literal(t) => t.to_string(),
            Part::Id => "{id}".to_owned(),
            Part::Timestamp => "{timestamp}".to_owned(),
            Part::Body => "{body}".to_owned(),
            Part::Url => "{url}".to_owned(),
            Part::Method => "{method}".to_owned(),
            Part::UrlHubSpotDecoded => unreachable!("not available in templates"),
        })
        .collect()
}

/// Raw text through every timestamp parser, the template parser and
/// HubSpot's decoder: no panic; what parses round-trips. The first eight
/// bytes, as an instant, go through both RFC 3339 writers, which must agree
/// and parse back.
pub fn timestamps(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for unit in UNITS {
        if let Some(t) = unit.parse(&text) {
            if unit == TimestampUnit::Rfc3339 && t <= MAX_RFC3339 {
                // Whatever parsed names an instant the writer can write back.
                assert_eq!(unit.parse(&unit.format(t)), Some(t), "{text:?}");
            }
        }
    }
    if let Ok(parts) = parse_template(&text) {
        assert_eq!(render(&parts), text, "a template is read without loss");
        assert!(parts.windows(2).all(|w| !matches!(w, [Part::Literal(_), Part::Literal(_)])), "{parts:?}");
    }
    let decoded = hubspot_decode(&text);
    assert!(decoded.len() <= text.len(), "decoding never lengthens: {text:?}");

    let mut raw = [0u8; 8];
    for (i, b) in data.iter().take(8).enumerate() {
        raw[i] = *b;
    }
    let t = u64::from_le_bytes(raw) % (MAX_RFC3339 + 1);
    let written = TimestampUnit::Rfc3339.format(t);
    assert_eq!(written, envelope::rfc3339(t), "the two RFC 3339 writers disagree at {t}");
    assert_eq!(TimestampUnit::Rfc3339.parse(&written), Some(t), "{written}");
    assert_eq!(TimestampUnit::Seconds.parse(&TimestampUnit::Seconds.format(t)), Some(t));
    assert_eq!(TimestampUnit::Millis.parse(&TimestampUnit::Millis.format(t)), Some(t));
    // Later instants are clamped by the envelope's writer.
    assert_eq!(envelope::rfc3339(u64::MAX), envelope::rfc3339(MAX_RFC3339));
}
