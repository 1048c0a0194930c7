//! Pure reading of the UPnP description documents behind an SSDP LOCATION
//! (docs/protocol/ssdp.md#device-description): the few text elements a host needs
//! (friendlyName, modelName, the DigitalImaging service's SCPDURL, X_ModelName,
//! X_SSH_Support), found by a small scanner rather than an XML library. No sockets here.
//!
//! Input comes from any host on the LAN: it is at most what the fetch capped it to,
//! scanning is linear, each value is cut to [`MAX_TEXT`] characters with control
//! characters dropped, and nothing panics.

use super::message::HttpUrl;

/// Longest element text kept (a model or device name is far shorter).
pub const MAX_TEXT: usize = 128;

/// The text of the first element called `name` (a namespace prefix such as `av:` is
/// ignored, the name compared case-insensitively): the five predefined entities decoded,
/// control characters dropped, trimmed, cut to [`MAX_TEXT`]. `None` when absent or empty.
pub fn element_text(xml: &str, name: &str) -> Option<String> {
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        let after = &rest[end + 1..];
        let tag_name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        let local = tag_name.rsplit(':').next().unwrap_or_default();
        if !tag.ends_with('/') && local.eq_ignore_ascii_case(name) {
            let text = &after[..after.find('<').unwrap_or(after.len())];
            let text = decode(text);
            return (!text.is_empty()).then_some(text);
        }
        rest = after;
    }
    None
}

/// Decodes `&amp; &lt; &gt; &quot; &apos;`, drops control characters, trims, cuts.
fn decode(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw.trim();
    while !rest.is_empty() && out.chars().count() < MAX_TEXT {
        if let Some(tail) = rest.strip_prefix('&') {
            let known = [
                ("amp;", '&'),
                ("lt;", '<'),
                ("gt;", '>'),
                ("quot;", '"'),
                ("apos;", '\''),
            ];
            if let Some((ent, c)) = known.iter().find(|(e, _)| tail.starts_with(e)) {
                out.push(*c);
                rest = &tail[ent.len()..];
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        if !c.is_control() {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.trim().to_string()
}

/// The SCPDURL of the service whose serviceType is `service_type`, from a device
/// description's serviceList.
pub fn service_scpd(xml: &str, service_type: &str) -> Option<String> {
    // Each piece ends with one service: its serviceType and SCPDURL are the first ones
    // in it (what precedes them in the piece holds neither).
    xml.split("</service>")
        .find(|piece| {
            element_text(piece, "serviceType").is_some_and(|t| t.eq_ignore_ascii_case(service_type))
        })
        .and_then(|piece| element_text(piece, "SCPDURL"))
}

/// `reference` (absolute `http://…`, `/absolute/path` or `relative/path`) resolved against
/// `base`; `None` when it is no usable plain-HTTP URL.
pub fn resolve(base: &HttpUrl, reference: &str) -> Option<HttpUrl> {
    let reference = reference.trim();
    if reference.contains("://") {
        return HttpUrl::parse(reference);
    }
    let path = if reference.starts_with('/') {
        reference.to_string()
    } else {
        let dir = &base.path[..base.path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{reference}", if dir.is_empty() { "/" } else { dir })
    };
    HttpUrl::parse(&format!("http://{}:{}{path}", base.host, base.port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DD: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
 <device>
  <deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType>
  <friendlyName>Studio &amp; Stage</friendlyName>
  <manufacturer>Sony Corporation</manufacturer>
  <modelName>SonyImagingDevice</modelName>
  <serviceList>
   <service>
    <serviceType>urn:schemas-sony-com:service:ScalarWebAPI:1</serviceType>
    <SCPDURL/>
   </service>
   <service>
    <serviceType>urn:schemas-sony-com:service:DigitalImaging:1</serviceType>
    <SCPDURL>/DigitalImagingDesc.xml</SCPDURL>
   </service>
  </serviceList>
 </device>
</root>"#;

    #[test]
    fn elements_are_found_with_or_without_a_prefix() {
        assert_eq!(
            element_text(DD, "friendlyName").as_deref(),
            Some("Studio & Stage")
        );
        assert_eq!(
            element_text(DD, "modelname").as_deref(),
            Some("SonyImagingDevice")
        );
        let desc = "<scpd><x:X_DigitalImagingDeviceInfo><x:X_DeviceInfo>\
                    <x:X_ModelName> ILCE-7M4 </x:X_ModelName></x:X_DeviceInfo>\
                    <x:X_ConnectionInfo><x:X_SSH_Support>Disable</x:X_SSH_Support>";
        assert_eq!(
            element_text(desc, "X_ModelName").as_deref(),
            Some("ILCE-7M4")
        );
        assert_eq!(
            element_text(desc, "X_SSH_Support").as_deref(),
            Some("Disable")
        );
        assert_eq!(
            element_text(desc, "X_DeviceInfo"),
            None,
            "no text of its own"
        );
        assert_eq!(element_text(DD, "nothing"), None);
        assert_eq!(element_text("<a/><a>x</a>", "a").as_deref(), Some("x"));
    }

    #[test]
    fn the_digital_imaging_scpd_is_that_services_own() {
        assert_eq!(
            service_scpd(DD, "urn:schemas-sony-com:service:DigitalImaging:1").as_deref(),
            Some("/DigitalImagingDesc.xml")
        );
        assert_eq!(
            service_scpd(DD, "urn:schemas-sony-com:service:ScalarWebAPI:1"),
            None
        );
        assert_eq!(service_scpd(DD, "urn:other"), None);
    }

    #[test]
    fn texts_are_cut_and_cleaned() {
        let long = format!("<m>{}</m>", "A".repeat(10_000));
        assert_eq!(element_text(&long, "m").unwrap().len(), MAX_TEXT);
        assert_eq!(
            element_text("<m>a\u{1b}[31mb\r\n</m>", "m").as_deref(),
            Some("a[31mb")
        );
        assert_eq!(
            element_text("<m>&bogus; &lt;x&gt;</m>", "m").as_deref(),
            Some("&bogus; <x>")
        );
        assert_eq!(element_text("<m>  </m>", "m"), None);
        assert_eq!(
            element_text("<m>unterminated", "m").as_deref(),
            Some("unterminated")
        );
        assert_eq!(element_text("<m", "m"), None);
    }

    #[test]
    fn references_resolve_against_the_location() {
        let base = HttpUrl::parse("http://192.168.1.5:64321/dd.xml").unwrap();
        let at = |r: &str| resolve(&base, r).map(|u| format!("{}:{}{}", u.host, u.port, u.path));
        assert_eq!(
            at("/DigitalImagingDesc.xml").as_deref(),
            Some("192.168.1.5:64321/DigitalImagingDesc.xml")
        );
        assert_eq!(
            at("DigitalImagingDesc.xml").as_deref(),
            Some("192.168.1.5:64321/DigitalImagingDesc.xml")
        );
        assert_eq!(
            at("http://10.0.0.1:80/x.xml").as_deref(),
            Some("10.0.0.1:80/x.xml")
        );
        let deep = HttpUrl::parse("http://cam:80/a/b/dd.xml").unwrap();
        assert_eq!(resolve(&deep, "c.xml").unwrap().path, "/a/b/c.xml");
        assert_eq!(at("has space.xml"), None);
        assert_eq!(at("https://x/"), None);
    }

    proptest! {
        #[test]
        fn random_documents_never_panic(s in "[<>/a-zA-Z:&;# \r\n\u{1}-\u{7f}é]{0,400}", n in "[a-zA-Z:]{0,12}") {
            if let Some(t) = element_text(&s, &n) {
                prop_assert!(t.chars().count() <= MAX_TEXT);
                prop_assert!(!t.chars().any(char::is_control));
            }
            let _ = service_scpd(&s, &n);
            let base = HttpUrl::parse("http://h:1/p/q").unwrap();
            let _ = resolve(&base, &s);
        }
    }
}
