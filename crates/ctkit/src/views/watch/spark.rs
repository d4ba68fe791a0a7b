//! A sparkline of the table fill: one block character per sample, `▁` (0–12.5 %) to `█`
//! (87.5–100 %), on an absolute 0–100 % scale so the height always means "how close to
//! nf_conntrack_max" (an auto-scaled line would make 0.1 % look full).

/// The eight block heights, lowest first.
const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The block for a fill percentage (clamped to 0–100; unknown = space).
pub fn block(fill_pct: Option<f64>) -> char {
    match fill_pct {
        None => ' ',
        Some(p) => {
            let p = p.clamp(0.0, 100.0);
            let i = ((p / 12.5).ceil() as usize).clamp(1, 8) - 1;
            BLOCKS[i]
        }
    }
}

/// The last `width` samples as a line, oldest first, padded on the left.
#[derive(Clone, Debug)]
pub struct Spark {
    width: usize,
    cells: std::collections::VecDeque<char>,
}

impl Spark {
    /// An empty line of `width` cells.
    pub fn new(width: usize) -> Spark {
        Spark {
            width,
            cells: std::collections::VecDeque::with_capacity(width),
        }
    }

    /// Adds a sample, dropping the oldest when full.
    pub fn push(&mut self, fill_pct: Option<f64>) {
        if self.cells.len() == self.width {
            self.cells.pop_front();
        }
        self.cells.push_back(block(fill_pct));
    }

    /// The line, `width` characters.
    pub fn render(&self) -> String {
        let pad = self.width - self.cells.len();
        std::iter::repeat_n(' ', pad)
            .chain(self.cells.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_on_an_absolute_scale() {
        assert_eq!(block(Some(0.0)), '▁');
        assert_eq!(block(Some(12.5)), '▁');
        assert_eq!(block(Some(12.6)), '▂');
        assert_eq!(block(Some(100.0)), '█');
        assert_eq!(block(Some(250.0)), '█');
        assert_eq!(block(None), ' ');
    }

    #[test]
    fn line_scrolls_and_pads() {
        let mut s = Spark::new(3);
        s.push(Some(100.0));
        assert_eq!(s.render(), "  █");
        s.push(Some(50.0));
        s.push(Some(0.0));
        s.push(Some(30.0));
        assert_eq!(s.render(), "▄▁▃");
    }
}
