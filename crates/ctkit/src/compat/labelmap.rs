//! The connlabel map file (`/etc/xtables/connlabel.conf`) as libnetfilter_conntrack's
//! `nfct_labelmap_new` reads it: `BIT NAME` per line, `#` comments, name trimmed, first
//! definition of a name wins.

use crate::compat::cnum::strtoul;
use crate::compat::request::LabelMap;
use std::path::Path;

/// conntrack 1.4.7's map (`CONNLABEL_CFG`).
pub const CONNLABEL_PATH: &str = "/etc/xtables/connlabel.conf";

/// Loads a label map; the error is the `strerror` text of the failed open.
pub fn load(path: &Path) -> Result<LabelMap, String> {
    let text = std::fs::read(path).map_err(|e| crate::compat::messages::io_error_text(&e))?;
    let text = String::from_utf8_lossy(&text);
    let mut map = LabelMap::default();
    for line in text.split_inclusive('\n') {
        if line.starts_with('#') {
            continue;
        }
        let c = strtoul(line, 0);
        if c.end == 0 {
            continue;
        }
        let name = line[c.end..].trim_matches(|ch: char| ch.is_ascii_whitespace());
        if name.is_empty() || map.bit(name).is_some() {
            continue;
        }
        map.entries.push((c.value as u32, name.to_string()));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bits_names_and_comments() {
        let p = std::env::temp_dir().join(format!("ctkit-labels-{}", std::process::id()));
        std::fs::write(
            &p,
            "# x\n0 eth0-in\n1\t eth1 out \n0x2 third\n1 eth1 out\nnope\n",
        )
        .unwrap();
        let m = load(&p).unwrap();
        assert_eq!(m.bit("eth0-in"), Some(0));
        assert_eq!(m.bit("eth1 out"), Some(1));
        assert_eq!(m.bit("third"), Some(2));
        assert_eq!(m.entries.len(), 3);
        std::fs::remove_file(&p).unwrap();
        assert_eq!(load(&p).unwrap_err(), "No such file or directory");
    }
}
