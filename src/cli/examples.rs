//! The "Examples:" blocks shown after each subcommand's `--help` (and in its man page).
//! Every line that starts with `alpha-bridge` (after an optional `sudo`) is parsed by
//! the real command line in a test, so an example can never name an option that does
//! not exist.

pub(crate) const TOP: &str = "\
Examples:
  alpha-bridge doctor                  check this computer is ready, with a fix per failed line
  alpha-bridge list                    the Sony cameras on USB (their USB mode) and on the network
  alpha-bridge webcam                  the camera becomes a webcam (start it before the video app)
  alpha-bridge webcam --camera emulated --record demo.mjpeg --duration 10s
                                       try it without a camera

`alpha-bridge help SUBCOMMAND` (or SUBCOMMAND --help) shows each subcommand's options and examples.
--camera always names the camera to talk to: a body on USB in webcam, pair and doctor (auto, a
serial number, emulated), the camera's Wi-Fi address in offload.
Exit codes: 0 ok, 1 runtime failure, 2 usage error.";

pub(crate) const DOCTOR: &str = "\
Examples:
  alpha-bridge doctor                   check everything, camera connected in PC Remote mode
  alpha-bridge doctor --dest /mnt/photos
                                        check the free space where `offload --dest` puts pictures
  alpha-bridge doctor --camera emulated
                                        check this computer with the built-in emulated camera

Each line is ok, warn or FAIL; a FAIL line says how to fix it. Exit code 0 only when no line is FAIL.";

pub(crate) const LIST: &str = "\
Examples:
  alpha-bridge list                     model, serial, USB mode, what to change on the camera;
                                        bodies in PC Remote on the network with their --camera ptpip:HOST:PORT
  alpha-bridge list --no-network        USB only (no 1.5 s network search)
  alpha-bridge list --json --no-probe   for scripts; without opening the camera";

pub(crate) const PAIR: &str = "\
Examples:
  alpha-bridge pair                     camera in Mass Storage mode, connected over USB
  alpha-bridge pair --show              print this computer's GUID (also as a gphoto2 setting)
  alpha-bridge pair --camera 3286D0123F01
                                        pair one of several connected bodies (serial from `list`)";

pub(crate) const OFFLOAD: &str = "\
Examples:
  alpha-bridge offload                  wait for Send to Computer; pictures go to ~/Pictures/alpha-bridge
  alpha-bridge offload --once --dest /mnt/photos
                                        one camera session, into /mnt/photos/YYYY-MM-DD/
  alpha-bridge offload --camera 192.168.1.40
                                        connect to the camera at this Wi-Fi address at once";

pub(crate) const WEBCAM: &str = "\
Examples:
  alpha-bridge webcam                   first Sony body on USB -> first v4l2loopback device
  alpha-bridge webcam --device /dev/video10 --aspect 16:9
                                        a fixed device, cropped to 16:9 for video calls
  alpha-bridge webcam --device none --record talk.avi --duration 2m
                                        record two minutes, no webcam
  alpha-bridge webcam --camera emulated --device null --duration 10s
                                        decode the emulated camera's frames, write them nowhere";

pub(crate) const CONTROL: &str = "\
Examples:
  alpha-bridge control list             every setting, its value and its choices
  alpha-bridge control set iso 400      also: shutter 1/125, aperture 2.8, ev +0.7, wb 5600K
  alpha-bridge control af-point 50% 40% move the AF point, then: alpha-bridge control af
  alpha-bridge control capture --stills ~/Pictures
                                        a still while the webcam keeps streaming";

pub(crate) const EMULATE: &str = "\
Examples:
  sudo alpha-bridge emulate --usb-gadget
                                        a PC Remote body on a real USB bus (needs a UDC: dummy_hcd)
  sudo alpha-bridge emulate --usb-gadget --mode msc --state /tmp/body
                                        the Mass Storage body `alpha-bridge pair` registers with
  alpha-bridge emulate --wifi --files ./photos --state /tmp/body
                                        a camera doing Send to Computer on loopback";

pub(crate) const COMPLETIONS: &str = "\
Examples:
  alpha-bridge completions bash > ~/.local/share/bash-completion/completions/alpha-bridge
  alpha-bridge completions zsh > ~/.zfunc/_alpha-bridge
  alpha-bridge completions fish > ~/.config/fish/completions/alpha-bridge.fish";

pub(crate) const MAN: &str = "\
Examples:
  alpha-bridge man | man -l -           read the main page now
  alpha-bridge man webcam | man -l -    the page of one subcommand
  alpha-bridge man --dir ~/.local/share/man/man1
                                        install every page (then `man alpha-bridge-webcam`)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    /// The command lines of an examples block: `alpha-bridge ...` up to the first run of
    /// two spaces (the comment), a redirection or a pipe.
    fn example_lines(block: &str) -> Vec<Vec<String>> {
        block
            .lines()
            .map(str::trim)
            .map(|l| l.strip_prefix("sudo ").unwrap_or(l))
            .filter(|l| l.starts_with("alpha-bridge "))
            .map(|l| {
                let l = l.split("  ").next().unwrap();
                let l = l.split(['>', '|']).next().unwrap();
                l.split_whitespace().map(String::from).collect()
            })
            .collect()
    }

    #[test]
    fn every_example_parses() {
        let all = [
            TOP,
            DOCTOR,
            LIST,
            PAIR,
            OFFLOAD,
            WEBCAM,
            EMULATE,
            COMPLETIONS,
            MAN,
        ];
        let mut n = 0;
        for block in all {
            let lines = example_lines(block);
            assert!(
                block == TOP || (2..=4).contains(&lines.len()),
                "2-4 examples per subcommand: {block}"
            );
            for args in lines {
                n += 1;
                if let Err(e) = Cli::try_parse_from(&args) {
                    panic!("example {args:?} does not parse: {e}");
                }
            }
        }
        assert!(n >= 20, "{n} examples");
    }

    #[test]
    fn every_visible_subcommand_has_examples() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let after = sub
                .get_after_help()
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert!(
                after.contains(&format!("alpha-bridge {}", sub.get_name())),
                "{} has no examples of itself: {after}",
                sub.get_name()
            );
        }
    }
}
