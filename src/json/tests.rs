//! The codec against serde_json, its oracle (native only: serde_json is a dev-dependency).

use super::float::{u128_decimal, write_f64};
use super::number::{number_value, pow10};
use super::*;
use proptest::prelude::*;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::Value;

#[test]
fn u128_decimal_is_u128_display() {
    for q in [
        0,
        1,
        9,
        10,
        99,
        100,
        1_000_000_007,
        u128::from(u64::MAX),
        u128::MAX,
    ] {
        assert_eq!(u128_decimal(q), q.to_string());
    }
    for k in 0..39 {
        let p = 10u128.pow(k);
        for q in [p - 1, p, p + 1] {
            assert_eq!(u128_decimal(q), q.to_string());
        }
    }
}

/// Accepted as a document ⇔ serde_json skips it; read as a value ⇔ serde_json reads a
/// `Value`, and then written as serde_json writes that `Value`.
fn same_as_serde(text: &str) -> Result<(), TestCaseError> {
    let ours = parse(text.as_bytes());
    let theirs = serde_json::from_str::<IgnoredAny>(text);
    prop_assert_eq!(
        ours.is_ok(),
        theirs.is_ok(),
        "syntax of {:?}: {:?}",
        text,
        theirs
    );
    let raw = serde_json::from_str::<&RawValue>(text);
    let value = serde_json::from_str::<Value>(text);
    let Ok(doc) = ours else { return Ok(()) };
    prop_assert_eq!(doc.raw(doc.root()).ok(), raw.ok().map(RawValue::get));
    let checked = doc.check_value(doc.root(), 0);
    prop_assert_eq!(
        checked.is_ok(),
        value.is_ok(),
        "value {:?}: {:?} / {:?}",
        text,
        checked,
        value
    );
    if let Ok(v) = value {
        let mut w = Writer::default();
        doc.write_canonical(doc.root(), &mut w).unwrap();
        prop_assert_eq!(w.out, v.to_string());
    }
    Ok(())
}

fn json_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\[\\]{}\",:0-9a-z_. eE+\\-\\\\/]{0,40}",
        "[\\[\\]{}\",:0-9 \\\\u]{0,24}",
        "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{0,25})?([eE][+-]?[0-9]{0,4})?",
        "\"([^\"\\\\]|\\\\[\"\\\\/bfnrtux]|\\\\u[0-9a-fA-F]{4}|\\\\u[dD][89abAB][0-9a-f]{2}(\\\\u[dD][c-fC-F][0-9a-f]{2})?){0,8}\"",
        any::<Vec<u8>>().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    #[test]
    fn parses_as_serde_json_does(text in json_like()) {
        same_as_serde(&text)?;
    }

    #[test]
    fn structured_values_read_and_write_as_serde_json(v in value()) {
        let text = v.to_string();
        same_as_serde(&text)?;
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        same_as_serde(&pretty)?;
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes(s in any::<String>()) {
        let mut w = Writer::default();
        w.str(&s);
        prop_assert_eq!(&w.out, &serde_json::to_string(&s).unwrap());
        let doc = parse(w.out.as_bytes()).unwrap();
        prop_assert_eq!(doc.string(doc.root()).unwrap(), s);
    }

    #[test]
    fn keys_from_data_are_escaped_as_serde_json_escapes_them(key in any::<String>(), other in any::<String>()) {
        let value = serde_json::json!({ key.clone(): 1, other.clone(): [key.clone()] });
        let text = serde_json::to_string(&value).unwrap();
        let doc = parse(text.as_bytes()).unwrap();
        let mut w = Writer::default();
        doc.write_canonical(doc.root(), &mut w).unwrap();
        let expected = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
        prop_assert_eq!(w.out, expected);
    }

    #[test]
    fn integers_are_written_as_serde_json_writes_them(u in any::<u64>(), i in any::<i64>()) {
        let mut w = Writer::default();
        w.u64(u);
        w.item();
        w.i64(i);
        for edge in [0, i64::MIN, i64::MAX, -1] {
            w.item();
            w.i64(edge);
        }
        w.item();
        w.u64(u64::MAX);
        let expected = serde_json::to_string(&(u, i, 0, i64::MIN, i64::MAX, -1, u64::MAX)).unwrap();
        prop_assert_eq!(format!("[{}]", w.out), expected);
    }

    #[test]
    fn floats_are_written_as_serde_json_writes_them(bits in any::<u64>()) {
        let f = f64::from_bits(bits);
        prop_assume!(f.is_finite());
        let mut out = String::new();
        write_f64(&mut out, f);
        prop_assert_eq!(out, serde_json::to_string(&f).unwrap());
    }

    #[test]
    fn ties_are_written_as_serde_json_writes_them(
        k in (1u64 << 49)..(1u64 << 52),
        frac in prop_oneof![Just(0.25), Just(0.5), Just(0.75)],
        scale in -40i32..40,
    ) {
        for f in [k as f64 + frac, (k as f64 + frac) * 2f64.powi(scale)] {
            let mut out = String::new();
            write_f64(&mut out, f);
            prop_assert_eq!(out, serde_json::to_string(&f).unwrap());
        }
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them(
        text in "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,30})?([eE][+-]?[0-9]{1,12})?",
    ) {
        let theirs = serde_json::from_str::<Value>(&text);
        let ours = number_value(text.as_bytes());
        match (ours, theirs) {
            (Ok(Number::U(u)), Ok(Value::Number(n))) => prop_assert_eq!(Some(u), n.as_u64()),
            (Ok(Number::I(i)), Ok(Value::Number(n))) => {
                prop_assert!(n.as_u64().is_none());
                prop_assert_eq!(Some(i), n.as_i64());
            }
            (Ok(Number::F(f)), Ok(Value::Number(n))) => {
                prop_assert!(n.is_f64());
                prop_assert_eq!(Some(f.to_bits()), n.as_f64().map(f64::to_bits));
            }
            (Err(_), Err(_)) => {}
            (ours, theirs) => prop_assert!(false, "{} gave {:?} / {:?}", text, ours, theirs),
        }
    }
}

proptest! {
    /// `push_digits` is `u64`'s `Display`, around every chunk border of its eight-digit
    /// divisions.
    #[test]
    fn push_digits_is_display(n in any::<u64>(), k in 0u32..20, d in -2i64..3) {
        for v in [n, 10u64.pow(k).saturating_add_signed(d), u64::MAX] {
            let mut out = String::new();
            super::write::push_digits(&mut out, v);
            prop_assert_eq!(out, v.to_string());
        }
    }
}

proptest! {
    /// `fields` looks for the next key right after the last one found first: whatever the
    /// order, unknown keys and duplicates, every field is found where it is, and a known key
    /// given twice is an error.
    #[test]
    fn fields_are_found_in_any_key_order(keys in proptest::collection::vec(0usize..5, 0..9)) {
        const NAMES: [&str; 4] = ["a", "bb", "c", "d"];
        let all = ["a", "bb", "c", "d", "x"];
        let entries: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("\"{}\":{i}", all[*k]))
            .collect();
        let text = format!("{{{}}}", entries.join(","));
        let doc = parse(text.as_bytes()).unwrap();
        let fields = doc.fields(doc.root(), "T", &NAMES);
        let duplicate = (0..NAMES.len()).any(|n| keys.iter().filter(|k| **k == n).count() > 1);
        prop_assert_eq!(fields.is_err(), duplicate, "{}", text);
        if let Ok(f) = fields {
            for n in 0..NAMES.len() {
                let expected = keys.iter().position(|k| *k == n).map(|i| i.to_string());
                let got = f.opt(&doc, n).unwrap().map(|id| doc.raw(id).unwrap().to_string());
                prop_assert_eq!(got, expected, "{} field {}", text, n);
            }
        }
    }
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map("[a-c]{0,2}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn powers_of_ten_are_the_literals() {
    for n in 0..=308u32 {
        let literal: f64 = format!("1e{n}").parse().unwrap();
        assert_eq!(pow10(n), Some(literal), "1e{n}");
    }
    assert_eq!(pow10(309), None);
}

#[test]
fn powers_of_two_and_neighbours_are_written_as_serde_json_writes_them() {
    for k in -1074..=1023 {
        let p = 2f64.powi(k);
        for f in [
            p,
            f64::from_bits(p.to_bits() + 1),
            f64::from_bits(p.to_bits().saturating_sub(1)),
        ] {
            let mut out = String::new();
            write_f64(&mut out, f);
            assert_eq!(out, serde_json::to_string(&f).unwrap(), "2^{k}");
        }
    }
}

#[test]
fn depth_limit_is_serde_jsons() {
    for depth in 120..135 {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        same_as_serde(&text).unwrap();
        let text = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        same_as_serde(&text).unwrap();
    }
    // Skipped values have no limit, and nothing recurses on the way.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse(deep.as_bytes()).is_ok());
}

#[test]
fn edge_cases() {
    for text in [
        "",
        " ",
        "-",
        "-0",
        "-0.0",
        "0.",
        ".5",
        "1e",
        "1e+",
        "01",
        "1.5e308",
        "1e309",
        "18446744073709551616.5",
        "184467440737095516155.5",
        "1e-400",
        "0e99999999999",
        "1e99999999999",
        "-1e-99999999999",
        "[1,]",
        "{\"a\":1,}",
        "{,}",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{1:2}",
        "tru",
        "nul",
        "[1 2]",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"\\ud800\\ud800\"",
        "\"\\ud83d\\ude00\"",
        "\"\\x\"",
        "\"\t\"",
        "\"\u{7f}\"",
        "[\"a\"] x",
        "{\"a\":1}{",
        "\"\\u00e9\"",
        "[[[]]]",
        "{\"\":{}}",
    ] {
        same_as_serde(text).unwrap();
    }
    for bytes in [&b"\"\xff\""[..], b"[\"\xff\"]", b"{\"\xff\":1}", b"\xff"] {
        let ours = parse(bytes).is_ok();
        let theirs = serde_json::from_slice::<IgnoredAny>(bytes).is_ok();
        assert_eq!(ours, theirs, "{bytes:?}");
    }
}
