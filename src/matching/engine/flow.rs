//! Maximum flow (Dinic) on exact integer capacities. The fairness solver builds one small
//! network per step on the aggregated groups, so nodes are few and capacities may be large.

use std::collections::VecDeque;

pub type Cap = i128;

/// Capacity that no finite demand reaches.
pub const INFINITE: Cap = i128::MAX / 4;

#[derive(Debug, Clone)]
struct Edge {
    to: usize,
    cap: Cap,
}

#[derive(Debug, Clone)]
pub struct FlowNetwork {
    edges: Vec<Edge>,
    adjacency: Vec<Vec<usize>>,
    level: Vec<i32>,
    cursor: Vec<usize>,
}

/// An edge handle: the index of its forward half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeId(usize);

impl FlowNetwork {
    pub fn new(nodes: usize) -> FlowNetwork {
        FlowNetwork {
            edges: Vec::new(),
            adjacency: vec![Vec::new(); nodes],
            level: vec![0; nodes],
            cursor: vec![0; nodes],
        }
    }

    pub fn add_edge(&mut self, from: usize, to: usize, cap: Cap) -> EdgeId {
        let id = self.edges.len();
        self.edges.push(Edge { to, cap });
        self.edges.push(Edge { to: from, cap: 0 });
        self.adjacency[from].push(id);
        self.adjacency[to].push(id + 1);
        EdgeId(id)
    }

    /// Flow currently on an edge.
    pub fn flow(&self, edge: EdgeId) -> Cap {
        self.edges[edge.0 + 1].cap
    }

    /// Sets an edge's capacity and clears its flow.
    pub fn set_capacity(&mut self, edge: EdgeId, cap: Cap) {
        self.edges[edge.0].cap = cap;
        self.edges[edge.0 + 1].cap = 0;
    }

    /// Capacity still unused on an edge.
    pub fn residual(&self, edge: EdgeId) -> Cap {
        self.edges[edge.0].cap
    }

    /// Raises an edge's capacity; the flow on it stays.
    pub fn widen(&mut self, edge: EdgeId, extra: Cap) {
        self.edges[edge.0].cap += extra;
    }

    /// Lowers an edge's unused capacity (never below its flow).
    pub fn narrow(&mut self, edge: EdgeId, less: Cap) {
        let residual = &mut self.edges[edge.0].cap;
        *residual = (*residual - less).max(0);
    }

    /// Takes `amount` of flow off an edge (it must carry at least that much). The caller keeps
    /// conservation by cancelling the same amount on the edges before and after it.
    pub fn cancel(&mut self, edge: EdgeId, amount: Cap) {
        self.edges[edge.0].cap += amount;
        self.edges[edge.0 + 1].cap -= amount;
    }

    fn bfs(&mut self, source: usize, sink: usize) -> bool {
        self.level.fill(-1);
        self.level[source] = 0;
        let mut queue = VecDeque::from([source]);
        while let Some(node) = queue.pop_front() {
            for &e in &self.adjacency[node] {
                let edge = &self.edges[e];
                if edge.cap > 0 && self.level[edge.to] < 0 {
                    self.level[edge.to] = self.level[node] + 1;
                    queue.push_back(edge.to);
                }
            }
        }
        self.level[sink] >= 0
    }

    fn dfs(&mut self, node: usize, sink: usize, pushed: Cap) -> Cap {
        if node == sink {
            return pushed;
        }
        while self.cursor[node] < self.adjacency[node].len() {
            let e = self.adjacency[node][self.cursor[node]];
            let (to, cap) = (self.edges[e].to, self.edges[e].cap);
            if cap > 0 && self.level[to] == self.level[node] + 1 {
                let got = self.dfs(to, sink, pushed.min(cap));
                if got > 0 {
                    self.edges[e].cap -= got;
                    self.edges[e ^ 1].cap += got;
                    return got;
                }
            }
            self.cursor[node] += 1;
        }
        0
    }

    /// Pushes as much more flow as fits; returns the amount added.
    pub fn max_flow(&mut self, source: usize, sink: usize) -> Cap {
        let mut total = 0;
        while self.bfs(source, sink) {
            self.cursor.fill(0);
            loop {
                let pushed = self.dfs(source, sink, INFINITE);
                if pushed == 0 {
                    break;
                }
                total += pushed;
            }
        }
        total
    }

    /// Nodes reachable from `source` in the residual network: the source side of a minimum cut
    /// once `max_flow` has run.
    pub fn source_side(&self, source: usize) -> Vec<bool> {
        let mut seen = vec![false; self.adjacency.len()];
        seen[source] = true;
        let mut stack = vec![source];
        while let Some(node) = stack.pop() {
            for &e in &self.adjacency[node] {
                let edge = &self.edges[e];
                if edge.cap > 0 && !seen[edge.to] {
                    seen[edge.to] = true;
                    stack.push(edge.to);
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_maximum_and_the_cut() {
        // s -> a (3), s -> b (2), a -> t (2), b -> t (3), a -> b (1)
        let mut net = FlowNetwork::new(4);
        let (s, a, b, t) = (0, 1, 2, 3);
        net.add_edge(s, a, 3);
        net.add_edge(s, b, 2);
        let at = net.add_edge(a, t, 2);
        net.add_edge(b, t, 3);
        net.add_edge(a, b, 1);
        assert_eq!(net.max_flow(s, t), 5);
        assert_eq!(net.flow(at), 2);
        let side = net.source_side(s);
        assert!(side[s] && !side[t]);
    }

    #[test]
    fn widening_an_edge_lets_more_flow_through() {
        let mut net = FlowNetwork::new(3);
        net.add_edge(0, 1, 10);
        let limit = net.add_edge(1, 2, 4);
        assert_eq!(net.max_flow(0, 2), 4);
        net.widen(limit, 3);
        assert_eq!(net.max_flow(0, 2), 3);
        assert_eq!(net.flow(limit), 7);
    }
}
