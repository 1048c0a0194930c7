//! The control socket's language: one JSON object per line each way
//! (docs/protocol/sony-usb.md#the-control-socket).
//!
//! Requests: `{"cmd":"list"}`, `{"cmd":"get","name":"iso"}`,
//! `{"cmd":"set","name":"iso","value":"400"}`, `{"cmd":"press","action":"af"}` (also
//! `af-point` with `x`,`y` [and `"unit":"fraction"`], `focus-step` with `steps`, `zoom`
//! with `dir` in/out/stop, `movie` with `state` start/stop), `{"cmd":"capture"}` (with
//! an optional absolute `dir`), `{"cmd":"subscribe"}`. An `id` is echoed.
//! Replies: `{"ok":true,…}` or `{"ok":false,"kind":…,"error":…}`; subscribers get
//! `{"event":"changed","name":…,"value":…}`.

use super::{Asked, Reply};
use crate::camera::control::{Action, Outcome, Request, State, Zoom};
use crate::camera::settings::Setting;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// Longest request line taken, newline included.
pub const MAX_LINE: usize = 4096;

/// One request line, read.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A request for the camera.
    Ask {
        /// The asker's `id`, echoed in the reply.
        id: Option<Value>,
        /// What is asked.
        asked: Asked,
        /// For `capture`: where to save the still.
        dir: Option<PathBuf>,
    },
    /// Report value changes on this connection from now on.
    Subscribe {
        /// The asker's `id`, echoed in the reply.
        id: Option<Value>,
    },
}

/// Why a line is not a request: the id (when one could be read) and the message.
#[derive(Debug, PartialEq)]
pub struct BadLine {
    /// The line's `id`, when it could be read.
    pub id: Option<Value>,
    /// What is wrong with the line.
    pub error: String,
}

/// Reads one request line.
pub fn parse(line: &str) -> Result<Line, BadLine> {
    let v: Value = serde_json::from_str(line).map_err(|e| BadLine {
        id: None,
        error: format!("not a JSON object: {e}"),
    })?;
    let Value::Object(o) = v else {
        return Err(BadLine {
            id: None,
            error: "a request is a JSON object such as {\"cmd\":\"list\"}".into(),
        });
    };
    let id = o.get("id").cloned();
    let bad = |error: String| BadLine {
        id: id.clone(),
        error,
    };
    let text = |k: &str| -> Result<String, BadLine> {
        match o.get(k) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(bad(format!("\"{k}\" is missing (a string)"))),
        }
    };
    let number = |k: &str| -> Result<f64, BadLine> {
        o.get(k)
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite())
            .ok_or_else(|| bad(format!("\"{k}\" is missing (a number)")))
    };
    let setting = || -> Result<Setting, BadLine> {
        let n = text("name")?;
        Setting::parse(&n).ok_or_else(|| {
            bad(format!(
                "no setting named {n:?}; the settings are {}",
                names()
            ))
        })
    };
    let cmd = text("cmd")?;
    let ask = |r: Request| Line::Ask {
        id: id.clone(),
        asked: Asked::Camera(r),
        dir: None,
    };
    Ok(match cmd.as_str() {
        "list" => ask(Request::List),
        "get" => ask(Request::Get(setting()?)),
        "set" => ask(Request::Set(setting()?, text("value")?)),
        "capture" => {
            let dir = match o.get("dir") {
                None | Some(Value::Null) => None,
                Some(Value::String(d)) if Path::new(d).is_absolute() => Some(PathBuf::from(d)),
                Some(_) => return Err(bad("\"dir\" must be an absolute path".into())),
            };
            Line::Ask {
                id: id.clone(),
                asked: Asked::Camera(Request::Capture),
                dir,
            }
        }
        "subscribe" => Line::Subscribe { id: id.clone() },
        "press" => {
            let action = text("action")?;
            let a = match action.as_str() {
                "af" => Action::Af,
                "af-point" => {
                    let fraction = match o.get("unit").and_then(Value::as_str) {
                        None | Some("pixel") => false,
                        Some("fraction") => true,
                        Some("grid") => {
                            let (x, y) = (number("x")?, number("y")?);
                            if !(0.0..640.0).contains(&x) || !(0.0..480.0).contains(&y) {
                                return Err(bad(format!(
                                    "the AF point {x},{y} is off the 640x480 grid"
                                )));
                            }
                            return Ok(ask(Request::Press(Action::AfPoint {
                                x: x as u16,
                                y: y as u16,
                            })));
                        }
                        Some(u) => {
                            return Err(bad(format!("\"unit\" {u:?}: use pixel, fraction or grid")))
                        }
                    };
                    return Ok(Line::Ask {
                        id: id.clone(),
                        asked: Asked::AfPointAt {
                            x: number("x")?,
                            y: number("y")?,
                            fraction,
                        },
                        dir: None,
                    });
                }
                "focus-step" => {
                    let n = number("steps")?;
                    if n.fract() != 0.0 || n == 0.0 || n.abs() > 1000.0 {
                        return Err(bad(
                            "\"steps\" must be a whole number from -1000 to 1000, not 0".into(),
                        ));
                    }
                    Action::FocusStep(n as i32)
                }
                "zoom" => Action::Zoom(match text("dir")?.as_str() {
                    "in" | "tele" => Zoom::In,
                    "out" | "wide" => Zoom::Out,
                    "stop" => Zoom::Stop,
                    d => return Err(bad(format!("zoom \"dir\" {d:?}: use in, out or stop"))),
                }),
                "movie" => Action::Movie(match text("state")?.as_str() {
                    "start" | "on" => true,
                    "stop" | "off" => false,
                    s => return Err(bad(format!("movie \"state\" {s:?}: use start or stop"))),
                }),
                a => {
                    return Err(bad(format!(
                        "no action {a:?}; the actions are af, af-point, focus-step, zoom, movie"
                    )))
                }
            };
            ask(Request::Press(a))
        }
        c => {
            return Err(bad(format!(
                "unknown cmd {c:?}; use list, get, set, press, capture or subscribe"
            )))
        }
    })
}

/// The setting names, for messages.
pub fn names() -> String {
    Setting::ALL
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A setting's state as a JSON object.
pub fn state_json(s: &State) -> Value {
    json!({
        "name": s.setting.name(),
        "value": s.value,
        "raw": s.raw.and_then(|r| i64::try_from(r).ok()),
        "settable": s.settable,
        "why_not": s.why_not,
        "choices": s.choices,
    })
}

/// The event line sent to subscribers when a setting's value changes.
pub fn event_json(s: &State) -> Value {
    json!({"event": "changed", "name": s.setting.name(), "value": s.value})
}

/// A failure reply: `ok` false, the `id` when known, the error's kind and text.
pub fn error_json(id: Option<&Value>, kind: &str, error: &str) -> Value {
    let mut o = Map::new();
    o.insert("ok".into(), false.into());
    if let Some(id) = id {
        o.insert("id".into(), id.clone());
    }
    o.insert("kind".into(), kind.into());
    o.insert("error".into(), error.into());
    Value::Object(o)
}

/// The reply line; `saved` is where a still went (or why saving failed).
pub fn reply_json(id: Option<&Value>, r: &Reply, saved: Option<&Result<PathBuf, String>>) -> Value {
    let out = match &r.result {
        Err(e) => return error_json(id, e.kind(), &e.to_string()),
        Ok(o) => o,
    };
    if let Some(Err(e)) = saved {
        return error_json(id, "save", e);
    }
    let mut o = Map::new();
    o.insert("ok".into(), true.into());
    if let Some(id) = id {
        o.insert("id".into(), id.clone());
    }
    o.insert(
        "ms".into(),
        json!((r.elapsed.as_secs_f64() * 1e4).round() / 10.0),
    );
    match out {
        Outcome::List(l) => {
            o.insert(
                "settings".into(),
                Value::Array(l.iter().map(state_json).collect()),
            );
        }
        Outcome::Value(s) => {
            if let Value::Object(m) = state_json(s) {
                o.extend(m);
            }
        }
        Outcome::Done(msg) => {
            o.insert("done".into(), msg.as_str().into());
        }
        Outcome::Still(s) => {
            o.insert("bytes".into(), (s.data.len() as u64).into());
            o.insert("camera_name".into(), s.info.filename.as_str().into());
            if let Some(Ok(p)) = saved {
                o.insert("path".into(), p.to_string_lossy().into_owned().into());
            }
            o.insert(
                "live_view_gap_ms".into(),
                match r.live_gap {
                    Some(g) => json!((g.as_secs_f64() * 1e4).round() / 10.0),
                    None => Value::Null,
                },
            );
        }
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_and_bad_ones_say_why() {
        assert_eq!(
            parse(r#"{"cmd":"set","name":"ISO","value":400,"id":7}"#).unwrap(),
            Line::Ask {
                id: Some(json!(7)),
                asked: Asked::Camera(Request::Set(Setting::Iso, "400".into())),
                dir: None
            }
        );
        assert_eq!(
            parse(r#"{"cmd":"press","action":"af-point","x":0.5,"y":0.25,"unit":"fraction"}"#)
                .unwrap(),
            Line::Ask {
                id: None,
                asked: Asked::AfPointAt {
                    x: 0.5,
                    y: 0.25,
                    fraction: true
                },
                dir: None
            }
        );
        for (line, says) in [
            ("", "not a JSON object"),
            ("[1]", "a JSON object"),
            (r#"{"cmd":"fly"}"#, "unknown cmd"),
            (r#"{"cmd":"get","name":"zoom"}"#, "no setting named"),
            (r#"{"cmd":"get"}"#, "\"name\" is missing"),
            (r#"{"cmd":"capture","dir":"rel/dir"}"#, "absolute"),
            (
                r#"{"cmd":"press","action":"focus-step","steps":1.5}"#,
                "whole number",
            ),
            (
                r#"{"cmd":"press","action":"zoom","dir":"up"}"#,
                "use in, out or stop",
            ),
            (
                r#"{"cmd":"press","action":"af-point","x":700,"y":1,"unit":"grid"}"#,
                "off the",
            ),
        ] {
            let e = parse(line).unwrap_err();
            assert!(e.error.contains(says), "{line}: {}", e.error);
        }
        assert_eq!(
            parse(r#"{"cmd":"bad","id":"x"}"#).unwrap_err().id,
            Some(json!("x"))
        );
    }
}
