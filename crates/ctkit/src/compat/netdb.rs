//! `/etc/protocols` lookups (`getprotobyname`/`getprotobynumber`) without libc's NSS: conntrack
//! resolves `-p NAME` through them for protocols it has no extension for.

use std::path::Path;

/// The default protocols database.
pub const PROTOCOLS_PATH: &str = "/etc/protocols";

fn entries(path: &Path) -> Vec<(String, u8, Vec<String>)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut f = line.split_ascii_whitespace();
        let (Some(name), Some(num)) = (f.next(), f.next()) else {
            continue;
        };
        let Ok(num) = num.parse::<u8>() else {
            continue;
        };
        out.push((name.to_string(), num, f.map(String::from).collect()));
    }
    out
}

/// `getprotobyname(name)`: official name or alias, case-sensitive.
pub fn proto_by_name(path: &Path, name: &str) -> Option<u8> {
    entries(path)
        .into_iter()
        .find(|(n, _, aliases)| n == name || aliases.iter().any(|a| a == name))
        .map(|(_, num, _)| num)
}

/// `getprotobynumber(num)`: the official name of the first entry.
pub fn proto_by_number(path: &Path, num: u8) -> Option<String> {
    entries(path)
        .into_iter()
        .find(|(_, n, _)| *n == num)
        .map(|(name, _, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_aliases_and_numbers() {
        let dir = std::env::temp_dir().join(format!("ctkit-netdb-{}", std::process::id()));
        std::fs::write(&dir, "# c\nip\t0\tIP\nigmp 2 IGMP # x\nbad\n").unwrap();
        assert_eq!(proto_by_name(&dir, "igmp"), Some(2));
        assert_eq!(proto_by_name(&dir, "IGMP"), Some(2));
        assert_eq!(proto_by_name(&dir, "Igmp"), None);
        assert_eq!(proto_by_number(&dir, 0).as_deref(), Some("ip"));
        assert_eq!(proto_by_number(&dir, 9), None);
        std::fs::remove_file(&dir).unwrap();
    }
}
