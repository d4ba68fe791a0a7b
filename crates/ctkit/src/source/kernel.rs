//! The kernel's conntrack table as a [`FlowSource`]: a ctnetlink dump per scan
//! (`IPCTNL_MSG_CT_GET`, streamed), and `IPCTNL_MSG_CT_GET_STATS` plus
//! `IPCTNL_MSG_CT_GET_STATS_CPU` for the table-wide counters.

use ctkit_ctnetlink::{Conn, DumpRequest, Table};
use ctkit_model::{Flow, FlowSource, ScanReport, SourceError, TableCounters};
use std::ops::ControlFlow;

/// A ctnetlink request socket in the calling thread's network namespace.
pub struct KernelSource {
    conn: Conn,
    reqs: Vec<DumpRequest>,
}

fn kerr(e: ctkit_ctnetlink::Error) -> SourceError {
    SourceError::Other(format!("kernel: {e}"))
}

impl KernelSource {
    /// Opens the socket.
    pub fn open() -> Result<KernelSource, SourceError> {
        Ok(KernelSource {
            conn: Conn::open().map_err(kerr)?,
            reqs: vec![DumpRequest::default()],
        })
    }

    /// The dumps of each scan, in order, with their kernel-side filters (results must still
    /// be rechecked by the view's filter); none: one dump of the whole table.
    pub fn set_requests(&mut self, reqs: Vec<DumpRequest>) {
        self.reqs = if reqs.is_empty() {
            vec![DumpRequest::default()]
        } else {
            reqs
        };
    }
}

impl FlowSource for KernelSource {
    fn describe(&self) -> String {
        "kernel".to_string()
    }

    fn scan(
        &mut self,
        f: &mut dyn FnMut(&Flow) -> ControlFlow<()>,
    ) -> Result<ScanReport, SourceError> {
        let mut report = ScanReport::default();
        for req in &self.reqs {
            let mut stop = false;
            crate::compat::exec::dump_with_fallback(
                &mut self.conn,
                Table::Conntrack,
                req,
                |flow| {
                    report.flows += 1;
                    let r = f(flow);
                    stop = r.is_break();
                    r
                },
            )
            .map_err(kerr)?;
            if stop {
                break;
            }
        }
        Ok(report)
    }

    fn counters(&mut self) -> Result<TableCounters, SourceError> {
        let g = self.conn.stats().map_err(kerr)?;
        let mut t = TableCounters {
            entries: g.entries.map(u64::from),
            max: g.max_entries.map(u64::from),
            cpu_sum: None,
        };
        self.conn.stats_cpu(|c| t.add_cpu(c)).map_err(kerr)?;
        Ok(t)
    }

    fn is_live(&self) -> bool {
        true
    }
}
