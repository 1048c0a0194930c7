//! The settings a user names (`iso`, `shutter`, `ev` …): which property of the body
//! holds each, how its values read for people (`1/125`, `f/2.8`, `+0.7`, `5600K`) and
//! how a value a person typed is matched to one the body lists
//! (docs/protocol/sony-usb.md#camera-control). Pure: no I/O.

use crate::ptp::codes::PropCode;
use crate::ptp::props::{Enabled, PropModel, Property};
use crate::ptp::sony::{Generation, PropForm, PropValue};

/// A named setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setting {
    /// Exposure compensation (`ev`).
    Ev,
    /// ISO sensitivity (`iso`).
    Iso,
    /// Shutter speed (`shutter`).
    Shutter,
    /// F-number (`aperture`).
    Aperture,
    /// White balance (`wb`).
    Wb,
    /// Focus mode (`focus`).
    Focus,
    /// The mode dial (read-only over USB).
    Mode,
    /// Battery level (`battery`, read-only).
    Battery,
    /// Movie recording state (`recording`).
    Recording,
}

/// WhiteBalance value meaning "use ColorTemp".
pub const WB_COLOR_TEMP: i128 = 0x8012;
/// ISO value meaning auto.
pub const ISO_AUTO: i128 = 0x00FF_FFFF;

const WB_NAMES: &[(i128, &str)] = &[
    (2, "auto"),
    (4, "daylight"),
    (6, "tungsten"),
    (7, "flash"),
    (0x8001, "fluorescent-warm"),
    (0x8002, "fluorescent-cool"),
    (0x8003, "fluorescent-day-white"),
    (0x8004, "fluorescent-daylight"),
    (0x8010, "cloudy"),
    (0x8011, "shade"),
    (WB_COLOR_TEMP, "temperature"),
    (0x8020, "custom"),
    (0x8021, "custom-1"),
    (0x8022, "custom-2"),
    (0x8023, "custom-3"),
    (0x8030, "underwater"),
];

const FOCUS_NAMES: &[(i128, &str)] = &[
    (1, "manual"),
    (2, "af-s"),
    (0x8004, "af-c"),
    (0x8005, "af-a"),
    (0x8006, "dmf"),
    (0x8009, "preset"),
];

const MODE_NAMES: &[(i128, &str)] = &[
    (1, "M"),
    (2, "P"),
    (3, "A"),
    (4, "S"),
    (0x8000, "auto"),
    (0x8001, "superior auto"),
    (0x8050, "movie P"),
    (0x8051, "movie A"),
    (0x8052, "movie S"),
    (0x8053, "movie M"),
];

impl Setting {
    /// Every setting, in the order `list` shows them.
    pub const ALL: [Setting; 9] = [
        Setting::Ev,
        Setting::Iso,
        Setting::Shutter,
        Setting::Aperture,
        Setting::Wb,
        Setting::Focus,
        Setting::Mode,
        Setting::Battery,
        Setting::Recording,
    ];

    /// The name a user types (`iso`, `shutter` …).
    pub fn name(self) -> &'static str {
        match self {
            Setting::Ev => "ev",
            Setting::Iso => "iso",
            Setting::Shutter => "shutter",
            Setting::Aperture => "aperture",
            Setting::Wb => "wb",
            Setting::Focus => "focus",
            Setting::Mode => "mode",
            Setting::Battery => "battery",
            Setting::Recording => "recording",
        }
    }

    /// For messages.
    pub fn label(self) -> &'static str {
        match self {
            Setting::Ev => "exposure compensation",
            Setting::Iso => "ISO",
            Setting::Shutter => "shutter speed",
            Setting::Aperture => "aperture",
            Setting::Wb => "white balance",
            Setting::Focus => "focus mode",
            Setting::Mode => "exposure mode",
            Setting::Battery => "battery level",
            Setting::Recording => "movie recording",
        }
    }

    /// A name or one of its aliases.
    pub fn parse(s: &str) -> Option<Setting> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Some(match s.as_str() {
            "ev" | "exposure" | "exposure-compensation" => Setting::Ev,
            "iso" => Setting::Iso,
            "shutter" | "shutter-speed" => Setting::Shutter,
            "aperture" | "f" | "fnumber" | "f-number" | "iris" => Setting::Aperture,
            "wb" | "white-balance" | "whitebalance" => Setting::Wb,
            "focus" | "focus-mode" => Setting::Focus,
            "mode" | "exposure-mode" | "program" => Setting::Mode,
            "battery" => Setting::Battery,
            "recording" | "movie" => Setting::Recording,
            _ => return None,
        })
    }

    /// Whether the host may write it at all.
    pub fn writable(self) -> bool {
        !matches!(self, Setting::Mode | Setting::Battery | Setting::Recording)
    }

    /// The property codes that may hold it, preferred first.
    fn codes(self) -> &'static [u16] {
        match self {
            Setting::Ev => &[
                PropCode::EXPOSURE_BIAS_COMPENSATION.0,
                PropCode::EXPOSURE_COMPENSATION.0,
            ],
            Setting::Iso => &[PropCode::ISO.0],
            Setting::Shutter => &[PropCode::SHUTTER_SPEED.0],
            Setting::Aperture => &[PropCode::F_NUMBER.0],
            Setting::Wb => &[PropCode::WHITE_BALANCE.0],
            Setting::Focus => &[PropCode::FOCUS_MODE.0],
            Setting::Mode => &[PropCode::EXPOSURE_PROGRAM_MODE.0],
            Setting::Battery => &[PropCode::BATTERY_LEVEL.0],
            Setting::Recording => &[PropCode::MOVIE_RECORDING_STATE.0],
        }
    }

    /// The property holding it on this body.
    pub fn property(self, m: &PropModel) -> Option<&Property> {
        self.codes().iter().find_map(|&c| m.get(c))
    }

    /// What a value looks like, for usage errors.
    pub fn syntax(self) -> &'static str {
        match self {
            Setting::Ev => "a signed number of stops such as +0.7, -1.3 or 0",
            Setting::Iso => "auto or a number such as 400",
            Setting::Shutter => "a time such as 1/125, 1/8, 2s or 2.5\" (bulb for bulb)",
            Setting::Aperture => "an f-number such as 2.8 or f/2.8",
            Setting::Wb => {
                "auto, daylight, tungsten, flash, cloudy, shade, fluorescent-warm, \
                 fluorescent-cool, fluorescent-day-white, fluorescent-daylight, underwater, \
                 custom, or a colour temperature such as 5600K"
            }
            Setting::Focus => "manual, af-s, af-c, af-a or dmf",
            Setting::Mode | Setting::Battery | Setting::Recording => "(read-only)",
        }
    }

    /// A raw value for people. `model` gives the colour temperature for `wb`.
    pub fn format(self, raw: i128, model: Option<&PropModel>) -> String {
        match self {
            Setting::Ev => {
                if raw == 0 {
                    "0".into()
                } else {
                    format!("{:+.1}", raw as f64 / 1000.0)
                }
            }
            Setting::Iso if raw == ISO_AUTO => "auto".into(),
            Setting::Iso => raw.to_string(),
            Setting::Shutter => format_shutter(raw),
            Setting::Aperture => {
                if raw % 100 == 0 {
                    format!("f/{}", raw / 100)
                } else {
                    format!("f/{:.1}", raw as f64 / 100.0)
                }
            }
            Setting::Wb if raw == WB_COLOR_TEMP => {
                match model
                    .and_then(|m| m.get(PropCode::COLOR_TEMPERATURE.0))
                    .and_then(|p| int(&p.current))
                {
                    Some(k) => format!("{k}K"),
                    None => "temperature".into(),
                }
            }
            Setting::Wb => named(WB_NAMES, raw),
            Setting::Focus => named(FOCUS_NAMES, raw),
            Setting::Mode => named(MODE_NAMES, raw),
            Setting::Battery if raw < 0 => "unknown".into(),
            Setting::Battery => format!("{raw}%"),
            Setting::Recording => if raw == 0 { "off" } else { "on" }.into(),
        }
    }

    /// Reads what a person typed. Err: a usage message.
    pub fn parse_value(self, text: &str) -> Result<Wanted, String> {
        let t = text.trim().to_ascii_lowercase();
        let bad = || {
            format!(
                "'{text}' is not a valid {} value: give {}",
                self.name(),
                self.syntax()
            )
        };
        let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
        match self {
            Setting::Ev => number(t.strip_prefix('+').unwrap_or(&t))
                .filter(|v| v.abs() <= 10.0)
                .map(Wanted::Number)
                .ok_or_else(bad),
            Setting::Iso if t == "auto" => Ok(Wanted::Raw(ISO_AUTO)),
            Setting::Iso => t
                .parse::<u32>()
                .ok()
                .filter(|&v| (1..=10_000_000).contains(&v))
                .map(|v| Wanted::Raw(v as i128))
                .ok_or_else(bad),
            Setting::Shutter if t == "bulb" => Ok(Wanted::Raw(0)),
            Setting::Shutter => {
                let secs = match t.split_once('/') {
                    Some((n, d)) => match (number(n), number(d)) {
                        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
                        _ => None,
                    },
                    None => number(t.trim_end_matches(['s', '"'])),
                };
                secs.filter(|&s| s > 0.0 && s <= 3600.0)
                    .map(Wanted::Number)
                    .ok_or_else(bad)
            }
            Setting::Aperture => {
                let n = t.strip_prefix("f/").or(t.strip_prefix('f')).unwrap_or(&t);
                number(n)
                    .filter(|&v| (0.5..=128.0).contains(&v))
                    .map(Wanted::Number)
                    .ok_or_else(bad)
            }
            Setting::Wb => {
                if let Some(k) = t.strip_suffix('k') {
                    return k
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|k| (1000..=20000).contains(k))
                        .map(Wanted::Kelvin)
                        .ok_or_else(bad);
                }
                let alias = match t.as_str() {
                    "incandescent" => "tungsten",
                    "awb" => "auto",
                    other => other,
                };
                lookup(WB_NAMES, alias).map(Wanted::Raw).ok_or_else(bad)
            }
            Setting::Focus => {
                let alias = match t.as_str() {
                    "mf" => "manual",
                    "af" => "af-s",
                    other => other,
                };
                lookup(FOCUS_NAMES, alias).map(Wanted::Raw).ok_or_else(bad)
            }
            Setting::Mode | Setting::Battery | Setting::Recording => Err(format!(
                "{} is read-only: {}",
                self.name(),
                match self {
                    Setting::Mode => "it follows the camera's mode dial",
                    _ => "the camera reports it",
                }
            )),
        }
    }

    /// The number a listed raw value stands for, to match [`Wanted::Number`].
    fn numeric(self, raw: i128) -> Option<f64> {
        match self {
            Setting::Ev => Some(raw as f64 / 1000.0),
            Setting::Aperture => Some(raw as f64 / 100.0),
            Setting::Shutter => {
                let (n, d) = ((raw >> 16) & 0xFFFF, raw & 0xFFFF);
                (n > 0 && d > 0).then(|| n as f64 / d as f64)
            }
            _ => None,
        }
    }

    /// Whether a listed value is what a person meant by `want`.
    fn matches(self, want: f64, raw: i128) -> bool {
        let Some(v) = self.numeric(raw) else {
            return false;
        };
        match self {
            // Thirds of a stop are written rounded (+0.3, +0.7).
            Setting::Ev => (v - want).abs() < 0.05,
            Setting::Aperture => (v - want).abs() < 0.051,
            _ => (v - want).abs() <= want * 0.03,
        }
    }
}

/// A value as a person gave it, before it is matched to the body's list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Wanted {
    /// A raw value (ISO 400, a white-balance preset, a focus mode).
    Raw(i128),
    /// A number matched against the listed values (stops, seconds, f-number).
    Number(f64),
    /// White balance by colour temperature.
    Kelvin(u32),
}

/// The values a property takes now: the settable list on 3.00, the one list on 2.00;
/// `None` for a range or no form.
pub fn listed(p: &Property) -> Option<Vec<i128>> {
    match &p.allowed {
        PropForm::Enum { values, settable } => {
            let l = match p.generation {
                Generation::V3 => settable.as_ref().unwrap_or(values),
                Generation::V2 => values,
            };
            Some(l.iter().filter_map(int).collect())
        }
        _ => None,
    }
}

/// Every value the body shows (its first list).
pub fn shown(p: &Property) -> Vec<i128> {
    match &p.allowed {
        PropForm::Enum { values, .. } => values.iter().filter_map(int).collect(),
        _ => Vec::new(),
    }
}

/// The choices for people: the listed values, or a range.
pub fn choices(s: Setting, p: &Property, m: &PropModel) -> Vec<String> {
    match &p.allowed {
        PropForm::Range {
            min: PropValue::Int(lo),
            max: PropValue::Int(hi),
            step,
        } => vec![format!(
            "{} to {} (step {})",
            s.format(*lo, Some(m)),
            s.format(*hi, Some(m)),
            int(step).unwrap_or(1)
        )],
        _ => listed(p)
            .unwrap_or_default()
            .into_iter()
            .map(|v| s.format(v, Some(m)))
            .collect(),
    }
}

/// Finds the raw value a person meant among `values`. Err: what they can choose.
pub fn resolve(s: Setting, want: Wanted, values: &[i128]) -> Option<i128> {
    match want {
        Wanted::Raw(v) => values.contains(&v).then_some(v),
        Wanted::Number(n) => values.iter().copied().find(|&v| s.matches(n, v)),
        Wanted::Kelvin(_) => None,
    }
}

/// Whether `v` lies in a range form (min..=max on the step), or the form allows anything.
pub fn in_range(p: &Property, v: i128) -> bool {
    match &p.allowed {
        PropForm::Range { min, max, step } => match (int(min), int(max)) {
            (Some(lo), Some(hi)) => {
                let step = int(step).filter(|&s| s > 0).unwrap_or(1);
                (lo..=hi).contains(&v) && (v - lo) % step == 0
            }
            _ => true,
        },
        _ => true,
    }
}

/// Why a property the body greys out cannot be changed now, in words: the mode dial
/// when it explains it, else what IsEnabled says.
pub fn why_not_settable(s: Setting, p: &Property, m: &PropModel) -> String {
    let mode = m
        .get(PropCode::EXPOSURE_PROGRAM_MODE.0)
        .and_then(|p| int(&p.current));
    let dial = |name: &str, turn: &str| {
        format!(
            "the mode dial is on {name}: {} is set by the camera{turn}",
            s.label()
        )
    };
    match (s, mode) {
        (Setting::Shutter, Some(3)) => dial("A", " (turn it to S or M)"),
        (Setting::Aperture, Some(4)) => dial("S", " (turn it to A or M)"),
        (Setting::Shutter, Some(2)) => dial("P", " (turn it to S or M)"),
        (Setting::Aperture, Some(2)) => dial("P", " (turn it to A or M)"),
        (_, Some(0x8000 | 0x8001)) => dial("auto", " (turn it to P, A, S or M)"),
        _ if !s.writable() => format!("{} is read-only", s.name()),
        _ => format!(
            "{} cannot be changed now: the camera shows it as {}",
            s.label(),
            match p.enabled {
                Enabled::Enabled => "read-only",
                e => e.label(),
            }
        ),
    }
}

/// The number in `v`, when it holds one.
pub fn int(v: &PropValue) -> Option<i128> {
    match v {
        PropValue::Int(n) => Some(*n),
        _ => None,
    }
}

fn named(table: &[(i128, &str)], raw: i128) -> String {
    table
        .iter()
        .find(|(v, _)| *v == raw)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| format!("{raw:#x}"))
}

fn lookup(table: &[(i128, &str)], name: &str) -> Option<i128> {
    table.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
}

fn format_shutter(raw: i128) -> String {
    let (n, d) = ((raw >> 16) & 0xFFFF, raw & 0xFFFF);
    match (n, d) {
        (0, _) | (_, 0) => "bulb".into(),
        (1, d) if d > 1 => format!("1/{d}"),
        (n, 1) => format!("{n}s"),
        (n, 10) if n % 10 == 0 => format!("{}s", n / 10),
        (n, 10) => format!("{:.1}s", n as f64 / 10.0),
        (n, d) => format!("{n}/{d}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_for_people() {
        assert_eq!(Setting::Ev.format(700, None), "+0.7");
        assert_eq!(Setting::Ev.format(-1300, None), "-1.3");
        assert_eq!(Setting::Ev.format(0, None), "0");
        assert_eq!(Setting::Iso.format(ISO_AUTO, None), "auto");
        assert_eq!(Setting::Shutter.format(0x0001_007D, None), "1/125");
        assert_eq!(Setting::Shutter.format(0x0019_000A, None), "2.5s");
        assert_eq!(Setting::Shutter.format(0x0014_000A, None), "2s");
        assert_eq!(Setting::Shutter.format(0, None), "bulb");
        assert_eq!(Setting::Aperture.format(280, None), "f/2.8");
        assert_eq!(Setting::Aperture.format(1100, None), "f/11");
        assert_eq!(Setting::Wb.format(4, None), "daylight");
        assert_eq!(Setting::Focus.format(0x8006, None), "dmf");
        assert_eq!(Setting::Mode.format(3, None), "A");
        assert_eq!(Setting::Focus.format(0x7777, None), "0x7777");
    }

    #[test]
    fn typed_values_match_the_listed_ones() {
        let ev = [-1000, -700, -300, 0, 300, 700, 1000];
        let w = Setting::Ev.parse_value("+0.7").unwrap();
        assert_eq!(resolve(Setting::Ev, w, &ev), Some(700));
        let w = Setting::Ev.parse_value("-0.3").unwrap();
        assert_eq!(resolve(Setting::Ev, w, &ev), Some(-300));
        let w = Setting::Ev.parse_value("0.5").unwrap();
        assert_eq!(resolve(Setting::Ev, w, &ev), None);
        let sh = [0x0001_0032, 0x0001_007D, 0x0001_00FA, 0x0019_000A];
        let w = Setting::Shutter.parse_value("1/125").unwrap();
        assert_eq!(resolve(Setting::Shutter, w, &sh), Some(0x0001_007D));
        let w = Setting::Shutter.parse_value("2.5\"").unwrap();
        assert_eq!(resolve(Setting::Shutter, w, &sh), Some(0x0019_000A));
        let f = [280, 350, 400, 560, 710];
        for t in ["2.8", "f/2.8", "F2.8"] {
            let w = Setting::Aperture.parse_value(t).unwrap();
            assert_eq!(resolve(Setting::Aperture, w, &f), Some(280), "{t}");
        }
        let w = Setting::Aperture.parse_value("7.1").unwrap();
        assert_eq!(resolve(Setting::Aperture, w, &f), Some(710));
        assert_eq!(
            Setting::Iso.parse_value("auto").unwrap(),
            Wanted::Raw(ISO_AUTO)
        );
        assert_eq!(Setting::Iso.parse_value("400").unwrap(), Wanted::Raw(400));
        assert_eq!(
            Setting::Wb.parse_value("5600K").unwrap(),
            Wanted::Kelvin(5600)
        );
        assert_eq!(Setting::Wb.parse_value("Daylight").unwrap(), Wanted::Raw(4));
        assert_eq!(
            Setting::Focus.parse_value("af-c").unwrap(),
            Wanted::Raw(0x8004)
        );
        for (s, t) in [
            (Setting::Iso, "fast"),
            (Setting::Iso, "-5"),
            (Setting::Shutter, "1/0"),
            (Setting::Shutter, "soon"),
            (Setting::Aperture, "wide"),
            (Setting::Ev, "nan"),
            (Setting::Ev, "+40"),
            (Setting::Wb, "blue"),
            (Setting::Wb, "99999999K"),
            (Setting::Focus, "sharp"),
            (Setting::Mode, "M"),
        ] {
            let e = s.parse_value(t).unwrap_err();
            assert!(e.contains(s.name()), "{e}");
        }
    }

    #[test]
    fn names_and_aliases() {
        for s in Setting::ALL {
            assert_eq!(Setting::parse(s.name()), Some(s));
        }
        assert_eq!(Setting::parse("White_Balance"), Some(Setting::Wb));
        assert_eq!(Setting::parse("zoom"), None);
    }
}
