//! The property model of a PC Remote body for `alpha-bridge list -v` (a table for people)
//! and `list --json` (an array for tools), docs/protocol/sony-usb.md#property-model.

use alpha_bridge::ptp::props::{format_value, type_name, PropModel, Property};
use alpha_bridge::ptp::sony::{PropForm, PropValue};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// At most this many enumeration values are printed in the table.
const SHOWN_VALUES: usize = 8;

/// The model as an indented table, one property per line.
pub(crate) fn table(m: &PropModel) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  properties  protocol {}, {} read{}",
        m.generation.label(),
        m.properties.len(),
        match m.skipped.len() {
            0 => String::new(),
            n => format!(", {n} skipped (unreadable or repeated; -v logs why)"),
        }
    );
    let _ = writeln!(
        s,
        "    {:<6}  {:<28}  {:<5}  {:<22}  {:<8}  {:<14}  allowed",
        "code", "name", "type", "value", "settable", "write"
    );
    for p in &m.properties {
        let _ = writeln!(
            s,
            "    {:04x}    {:<28}  {:<5}  {:<22}  {:<8}  {:<14}  {}",
            p.code,
            p.name.unwrap_or("-"),
            type_name(p.data_type),
            format_value(&p.current),
            if p.settable_now() {
                "yes"
            } else {
                p.enabled.label()
            },
            p.write.label(),
            allowed_text(p)
        );
    }
    s
}

fn list_text(vs: &[PropValue]) -> String {
    let mut t: Vec<String> = vs.iter().take(SHOWN_VALUES).map(short).collect();
    if vs.len() > SHOWN_VALUES {
        t.push(format!("… {} in all", vs.len()));
    }
    t.join(" ")
}

fn short(v: &PropValue) -> String {
    match v {
        PropValue::Int(n) if *n >= 0x100 => format!("{n:#x}"),
        v => format_value(v),
    }
}

fn allowed_text(p: &Property) -> String {
    match &p.allowed {
        PropForm::None => String::new(),
        PropForm::Range { min, max, step } => {
            format!("{}..{} step {}", short(min), short(max), short(step))
        }
        PropForm::Enum {
            values,
            settable: None,
        } => list_text(values),
        PropForm::Enum {
            values,
            settable: Some(now),
        } => format!("{} | settable now: {}", list_text(values), list_text(now)),
    }
}

fn value(v: &PropValue) -> Value {
    match v {
        // i128 does not fit JSON numbers: beyond i64/u64 the value goes out as a string.
        PropValue::Int(n) => i64::try_from(*n)
            .map(Value::from)
            .or_else(|_| u64::try_from(*n).map(Value::from))
            .unwrap_or_else(|_| Value::from(n.to_string())),
        PropValue::Str(s) => Value::from(s.as_str()),
        PropValue::Array(a) => Value::Array(a.iter().map(|&n| value(&PropValue::Int(n))).collect()),
    }
}

fn values(vs: &[PropValue]) -> Value {
    Value::Array(vs.iter().map(value).collect())
}

/// The model for tools: protocol, properties (every field), skipped entries.
pub(crate) fn json(m: &PropModel) -> Value {
    let props: Vec<Value> = m
        .properties
        .iter()
        .map(|p| {
            let allowed = match &p.allowed {
                PropForm::None => Value::Null,
                PropForm::Range { min, max, step } => {
                    json!({"range": {"min": value(min), "max": value(max), "step": value(step)}})
                }
                PropForm::Enum {
                    values: vs,
                    settable,
                } => json!({
                    "enum": values(vs),
                    "settable_now": settable.as_deref().map(values),
                }),
            };
            json!({
                "code": format!("{:04x}", p.code),
                "name": p.name,
                "data_type": type_name(p.data_type),
                "get_set": p.get_set,
                "enabled": p.enabled.label(),
                "current": value(&p.current),
                "allowed": allowed,
                "settable_now": p.settable_now(),
                "control": p.is_control(),
                "write": p.write.label(),
            })
        })
        .collect();
    let skipped: Vec<Value> = m
        .skipped
        .iter()
        .map(|s| {
            json!({
                "offset": s.offset,
                "code": s.code.map(|c| format!("{c:04x}")),
                "bytes": s.bytes.len(),
                "reason": s.reason.to_string(),
            })
        })
        .collect();
    json!({
        "protocol": m.generation.label(),
        "properties": props,
        "skipped": skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alpha_bridge::ptp::sony::{encode_all_props, Generation, PropDesc};
    use alpha_bridge::ptp::DataType;

    fn model(g: Generation) -> PropModel {
        let d = |code, t, get_set, form| PropDesc {
            code,
            data_type: t,
            get_set,
            is_enabled: 1,
            default: PropValue::Int(0),
            current: PropValue::Int(400),
            form,
        };
        let ints = |v: &[i128]| v.iter().map(|&n| PropValue::Int(n)).collect::<Vec<_>>();
        let props = [
            d(
                0xD21E,
                DataType::UINT32,
                1,
                PropForm::Enum {
                    values: ints(&[100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600]),
                    settable: (g == Generation::V3).then(|| ints(&[100, 400])),
                },
            ),
            d(
                0xD20F,
                DataType::UINT16,
                1,
                PropForm::Range {
                    min: PropValue::Int(2500),
                    max: PropValue::Int(9900),
                    step: PropValue::Int(100),
                },
            ),
            d(0xD2C1, DataType::UINT16, 0x81, PropForm::None),
        ];
        let mut b = Vec::new();
        encode_all_props(&props, g, &mut b);
        PropModel::parse(&b, g, &[]).unwrap()
    }

    #[test]
    fn table_lists_every_property_with_name_value_and_write_method() {
        let t = table(&model(Generation::V2));
        assert!(t.contains("protocol 2.00, 3 read"), "{t}");
        let iso = t.lines().find(|l| l.contains("d21e")).unwrap();
        assert!(
            iso.contains("ISO") && iso.contains("u32") && iso.contains("400 (0x190)"),
            "{iso}"
        );
        assert!(
            iso.contains("0x9207 notch") && iso.contains("… 9 in all"),
            "{iso}"
        );
        let half = t.lines().find(|l| l.contains("d2c1")).unwrap();
        assert!(
            half.contains("ShutterHalfRelease") && half.contains("0x9207 control"),
            "{half}"
        );
        assert!(t.contains("0x9c4..0x26ac step 100"), "{t}");
        let t3 = table(&model(Generation::V3));
        assert!(t3.contains("settable now: 100 0x190"), "{t3}");
        assert!(t3.contains("0x9205 value"), "{t3}");
    }

    #[test]
    fn json_has_every_field_for_tools() {
        let j = json(&model(Generation::V3));
        assert_eq!(j["protocol"], "3.00");
        let iso = &j["properties"][0];
        assert_eq!(iso["code"], "d21e");
        assert_eq!(iso["name"], "ISO");
        assert_eq!(iso["current"], 400);
        assert_eq!(iso["allowed"]["settable_now"], json!([100, 400]));
        assert_eq!(iso["write"], "0x9205 value");
        assert_eq!(iso["settable_now"], true);
        assert_eq!(j["properties"][1]["allowed"]["range"]["max"], 9900);
        assert_eq!(j["skipped"], json!([]));
        let text = serde_json::to_string(&j).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), j);
    }
}
