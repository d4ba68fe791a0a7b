//! Expectation messages ⇄ [`Expect`] (`CTA_EXPECT_*`, nfnetlink_conntrack.h;
//! net/netfilter/nf_conntrack_netlink.c `ctnetlink_exp_dump_expect`).

use crate::attr::{AttrIter, Builder};
use crate::error::{at, Result};
use crate::tuple::{emit_tuple, parse_tuple};
use crate::uapi::*;
use ctkit_model::expect::ExpectNat;
use ctkit_model::{Expect, HelperName, Tuple};

/// Parses an expectation message's attributes into `e` (reset first).
pub fn parse_expect(attrs: AttrIter<'_>, e: &mut Expect) -> Result<()> {
    *e = Expect::default();
    for a in attrs {
        let a = a?;
        match a.kind() {
            CTA_EXPECT_MASTER => parse_tuple(&a, &mut e.master).map_err(at("CTA_EXPECT_MASTER"))?,
            CTA_EXPECT_TUPLE => parse_tuple(&a, &mut e.tuple).map_err(at("CTA_EXPECT_TUPLE"))?,
            CTA_EXPECT_MASK => parse_tuple(&a, &mut e.mask).map_err(at("CTA_EXPECT_MASK"))?,
            CTA_EXPECT_TIMEOUT => e.timeout = Some(a.be32().map_err(at("CTA_EXPECT_TIMEOUT"))?),
            CTA_EXPECT_ID => e.id = Some(a.be32().map_err(at("CTA_EXPECT_ID"))?),
            CTA_EXPECT_HELP_NAME => {
                e.helper = Some(HelperName::new(
                    a.str().map_err(at("CTA_EXPECT_HELP_NAME"))?,
                ))
            }
            CTA_EXPECT_ZONE => e.zone = Some(a.be16().map_err(at("CTA_EXPECT_ZONE"))?),
            CTA_EXPECT_FLAGS => e.flags = Some(a.be32().map_err(at("CTA_EXPECT_FLAGS"))?),
            CTA_EXPECT_CLASS => e.class = Some(a.be32().map_err(at("CTA_EXPECT_CLASS"))?),
            CTA_EXPECT_FN => {
                e.fn_name = Some(HelperName::new(a.str().map_err(at("CTA_EXPECT_FN"))?))
            }
            CTA_EXPECT_NAT => {
                let mut nat = ExpectNat {
                    dir: 0,
                    tuple: Tuple::default(),
                };
                for x in a.nested() {
                    let x = x.map_err(at("CTA_EXPECT_NAT"))?;
                    match x.kind() {
                        CTA_EXPECT_NAT_DIR => nat.dir = x.be32().map_err(at("CTA_EXPECT_NAT"))?,
                        CTA_EXPECT_NAT_TUPLE => {
                            parse_tuple(&x, &mut nat.tuple).map_err(at("CTA_EXPECT_NAT"))?
                        }
                        _ => {}
                    }
                }
                e.nat = Some(nat);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Emits an expectation for `IPCTNL_MSG_EXP_NEW`.
pub fn emit_expect(b: &mut Builder, e: &Expect) {
    emit_tuple(b, CTA_EXPECT_MASTER, &e.master);
    emit_tuple(b, CTA_EXPECT_TUPLE, &e.tuple);
    emit_tuple(b, CTA_EXPECT_MASK, &e.mask);
    if let Some(t) = e.timeout {
        b.put_be32(CTA_EXPECT_TIMEOUT, t);
    }
    if let Some(z) = e.zone {
        b.put_be16(CTA_EXPECT_ZONE, z);
    }
    if let Some(f) = e.flags {
        b.put_be32(CTA_EXPECT_FLAGS, f);
    }
    if let Some(c) = e.class {
        b.put_be32(CTA_EXPECT_CLASS, c);
    }
    if let Some(h) = e.helper {
        b.put_str(CTA_EXPECT_HELP_NAME, h.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_emit_then_parse_is_identity() {
        let t = |s: &str, d: &str, sp, dp| Tuple {
            src: s.parse().unwrap(),
            dst: d.parse().unwrap(),
            proto: 6,
            sport: sp,
            dport: dp,
            ..Tuple::default()
        };
        let e = Expect {
            master: t("192.0.2.1", "192.0.2.2", 1000, 21),
            tuple: t("192.0.2.1", "192.0.2.2", 0, 5000),
            mask: t("255.255.255.255", "255.255.255.255", 0, 0xffff),
            timeout: Some(300),
            zone: Some(3),
            flags: Some(1),
            class: Some(0),
            helper: Some(HelperName::new("ftp")),
            ..Expect::default()
        };
        let mut b = Builder::new();
        emit_expect(&mut b, &e);
        let mut g = Expect::default();
        parse_expect(AttrIter::new(b.as_bytes()), &mut g).unwrap();
        assert_eq!(g, e);
    }
}
