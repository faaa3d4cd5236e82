//! Places rows and panels on Grafana's 24-column grid, left to right and
//! top to bottom, and numbers them in that order so ids are stable.

use crate::model::{Item, Panel, Row};

const COLUMNS: u32 = 24;

#[derive(Debug, Default)]
pub(crate) struct Layout {
    items: Vec<Item>,
    next_id: u32,
    x: u32,
    y: u32,
    /// Height of the tallest panel on the current line.
    line_h: u32,
}

impl Layout {
    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn new_line(&mut self) {
        self.y += self.line_h;
        self.x = 0;
        self.line_h = 0;
    }

    /// A row header across the grid; panels after it belong to it.
    pub(crate) fn row(&mut self, title: &str) {
        if self.x > 0 {
            self.new_line();
        }
        let id = self.id();
        self.items.push(Item::Row(Row {
            kind: "row",
            id,
            title: title.to_owned(),
            collapsed: false,
            grid_pos: crate::model::GridPos { h: 1, w: COLUMNS, x: 0, y: self.y },
            panels: Vec::new(),
        }));
        self.y += 1;
    }

    /// A panel after the previous one, on a new line when it does not fit.
    pub(crate) fn panel(&mut self, mut panel: Panel) {
        let w = panel.grid_pos.w.clamp(1, COLUMNS);
        if self.x + w > COLUMNS {
            self.new_line();
        }
        panel.id = self.id();
        panel.grid_pos.w = w;
        panel.grid_pos.x = self.x;
        panel.grid_pos.y = self.y;
        self.x += w;
        self.line_h = self.line_h.max(panel.grid_pos.h);
        self.items.push(Item::Panel(Box::new(panel)));
    }

    pub(crate) fn finish(self) -> Vec<Item> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::series;

    fn p(w: u32, h: u32) -> Panel {
        Panel::timeseries("t", "", "short", vec![series("up", "")]).size(w, h)
    }

    #[test]
    fn panels_wrap_at_24_columns_and_rows_start_a_line() {
        let mut l = Layout::default();
        l.row("a");
        l.panel(p(16, 8));
        l.panel(p(12, 6)); // does not fit beside: next line at y = 1 + 8
        l.panel(p(12, 4));
        l.row("b");
        l.panel(p(30, 3));
        let pos: Vec<_> = l
            .finish()
            .into_iter()
            .map(|i| match i {
                Item::Row(r) => (r.id, r.grid_pos),
                Item::Panel(p) => (p.id, p.grid_pos),
            })
            .map(|(id, g)| (id, g.x, g.y, g.w, g.h))
            .collect();
        assert_eq!(
            pos,
            vec![
                (1, 0, 0, 24, 1),
                (2, 0, 1, 16, 8),
                (3, 0, 9, 12, 6),
                (4, 12, 9, 12, 4),
                (5, 0, 15, 24, 1),
                (6, 0, 16, 24, 3)
            ]
        );
    }
}
