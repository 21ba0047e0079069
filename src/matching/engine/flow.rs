//! Maximum flow (Dinic) on exact integer capacities. The fairness solver builds one small
//! network per step on the aggregated groups, so nodes are few and capacities may be large:
//! 64 bits wide when the network's bound allows, 128 otherwise.

pub type Cap = i128;

/// Capacity that no finite demand reaches.
pub const INFINITE: Cap = i128::MAX / 4;

/// How a network stores capacities: 64 bits when every capacity and flow it can hold fits
/// (goods: units times a level's denominator), 128 bits otherwise (money in fen times one).
/// The hot loops read half as much memory on the narrow one.
pub trait Capacity:
    Copy
    + Ord
    + Default
    + std::fmt::Debug
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::Sub<Output = Self>
    + 'static
{
    const ZERO: Self;
    const INFINITE: Self;
    fn from_cap(cap: Cap) -> Self;
    fn to_cap(self) -> Cap;
    /// This thread's dropped networks of this width.
    fn spare() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Network<Self>>>>;
}

impl Capacity for i128 {
    const ZERO: i128 = 0;
    const INFINITE: i128 = INFINITE;
    fn from_cap(cap: Cap) -> i128 {
        cap
    }
    fn to_cap(self) -> Cap {
        self
    }
    fn spare() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Network<i128>>>> {
        &SPARE_WIDE
    }
}

impl Capacity for i64 {
    const ZERO: i64 = 0;
    const INFINITE: i64 = i64::MAX / 4;
    fn from_cap(cap: Cap) -> i64 {
        if cap >= INFINITE {
            return <i64 as Capacity>::INFINITE;
        }
        i64::try_from(cap).expect("a narrow network's capacities fit in 64 bits")
    }
    fn to_cap(self) -> Cap {
        Cap::from(self)
    }
    fn spare() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Network<i64>>>> {
        &SPARE_NARROW
    }
}

/// The most a narrow network may carry: its infinite capacity plus this stays below `i64::MAX`.
const NARROW_BOUND: Cap = 1 << 60;

/// The network as built: edge `e` and its reverse `e ^ 1` side by side. Before a flow it is
/// packed: every half edge is copied under the node it leaves, so that each node's edges lie
/// in one run of the packed arrays (in the order they were added) and a pass over them reads
/// memory in order, with no lookup through an edge index.
#[derive(Debug, Clone, Default)]
pub struct Network<C: Capacity> {
    nodes: usize,
    to: Vec<u32>,
    cap: Vec<C>,
    /// Packed: `first[v]..first[v + 1]` are node `v`'s half edges (empty while building).
    first: Vec<u32>,
    /// Per packed half edge: its head, its residual capacity and the place of its reverse.
    head: Vec<u32>,
    residual: Vec<C>,
    reverse: Vec<u32>,
    /// Per half edge as added: its packed place.
    place: Vec<u32>,
    level: Vec<i32>,
    /// Per node: the next packed half edge the current phase tries.
    cursor: Vec<u32>,
    queue: Vec<u32>,
}

/// An edge handle: the index of its forward half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeId(usize);

/// How many dropped networks each thread keeps for their memory.
const SPARE_NETWORKS: usize = 1;

thread_local! {
    /// Networks dropped on this thread, kept for their buffers: the fairness solver builds and
    /// drops many large networks in a row, and memory handed back to the system comes back as
    /// fresh pages the kernel must zero first (a fifth or more of a profile of the engine).
    static SPARE_NARROW: std::cell::RefCell<Vec<Network<i64>>> = const { std::cell::RefCell::new(Vec::new()) };
    static SPARE_WIDE: std::cell::RefCell<Vec<Network<i128>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl<C: Capacity> Drop for Network<C> {
    fn drop(&mut self) {
        if self.cap.capacity() == 0 {
            return;
        }
        // Not while the store itself is being changed or torn down: then it is simply freed.
        let _ = C::spare().try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                if spare.len() < SPARE_NETWORKS {
                    spare.push(std::mem::take(self));
                }
            }
        });
    }
}

/// Frees the networks this thread kept for their memory (once a plan is made).
pub fn release_spare_networks() {
    let _ = SPARE_NARROW.try_with(|spare| spare.borrow_mut().clear());
    let _ = SPARE_WIDE.try_with(|spare| spare.borrow_mut().clear());
}

impl<C: Capacity> Network<C> {
    /// A network expected to get about `edges` edges, on the buffers of a dropped one when
    /// this thread kept any.
    fn with_edges(nodes: usize, edges: usize) -> Network<C> {
        let mut net = C::spare()
            .try_with(|spare| spare.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        net.nodes = nodes;
        net.to.clear();
        net.cap.clear();
        net.first.clear();
        net.level.clear();
        net.level.resize(nodes, 0);
        net.cursor.clear();
        net.cursor.resize(nodes, 0);
        net.queue.clear();
        net.queue.reserve(nodes);
        net.to.reserve(2 * edges);
        net.cap.reserve(2 * edges);
        net
    }

    fn add_edge(&mut self, from: usize, to: usize, cap: C) -> EdgeId {
        self.unpack();
        let id = self.to.len();
        self.to.push(to as u32);
        self.cap.push(cap);
        self.to.push(from as u32);
        self.cap.push(C::ZERO);
        EdgeId(id)
    }

    fn packed(&self) -> bool {
        !self.first.is_empty()
    }

    /// Files every half edge under the node it leaves, in the order the edges were added
    /// (a counting sort), once before a flow.
    fn pack(&mut self) {
        if self.packed() {
            return;
        }
        let halves = self.to.len();
        let mut first = std::mem::take(&mut self.first);
        first.resize(self.nodes + 1, 0);
        for e in 0..halves {
            first[self.to[e ^ 1] as usize + 1] += 1;
        }
        for v in 0..self.nodes {
            first[v + 1] += first[v];
        }
        // Each node's next free place, kept in `cursor` (reset before every phase).
        self.cursor.clear();
        self.cursor.extend_from_slice(&first[..self.nodes]);
        self.place.clear();
        self.place.resize(halves, 0);
        self.head.clear();
        self.head.resize(halves, 0);
        self.residual.clear();
        self.residual.resize(halves, C::ZERO);
        for e in 0..halves {
            let v = self.to[e ^ 1] as usize;
            let p = self.cursor[v];
            self.cursor[v] += 1;
            self.place[e] = p;
            self.head[p as usize] = self.to[e];
            self.residual[p as usize] = self.cap[e];
        }
        self.reverse.clear();
        self.reverse.resize(halves, 0);
        for e in 0..halves {
            self.reverse[self.place[e] as usize] = self.place[e ^ 1];
        }
        self.first = first;
    }

    /// Writes the packed capacities back under the edges as added, before the network grows.
    fn unpack(&mut self) {
        if !self.packed() {
            return;
        }
        for e in 0..self.to.len() {
            self.cap[e] = self.residual[self.place[e] as usize];
        }
        self.first.clear();
    }

    /// The current capacity of half edge `e`, wherever it is kept.
    fn half(&mut self, e: usize) -> &mut C {
        if self.packed() {
            &mut self.residual[self.place[e] as usize]
        } else {
            &mut self.cap[e]
        }
    }

    fn half_value(&self, e: usize) -> C {
        if self.packed() {
            self.residual[self.place[e] as usize]
        } else {
            self.cap[e]
        }
    }

    /// Flow currently on an edge.
    fn flow(&self, edge: EdgeId) -> C {
        self.half_value(edge.0 + 1)
    }

    /// Sets an edge's capacity and clears its flow.
    fn set_capacity(&mut self, edge: EdgeId, cap: C) {
        *self.half(edge.0) = cap;
        *self.half(edge.0 + 1) = C::ZERO;
    }

    /// Capacity still unused on an edge.
    fn residual(&self, edge: EdgeId) -> C {
        self.half_value(edge.0)
    }

    /// Raises an edge's capacity; the flow on it stays.
    fn widen(&mut self, edge: EdgeId, extra: C) {
        *self.half(edge.0) += extra;
    }

    /// Lowers an edge's unused capacity (never below its flow).
    fn narrow(&mut self, edge: EdgeId, less: C) {
        let residual = self.half(edge.0);
        *residual = (*residual - less).max(C::ZERO);
    }

    /// Takes `amount` of flow off an edge (it must carry at least that much). The caller keeps
    /// conservation by cancelling the same amount on the edges before and after it.
    fn cancel(&mut self, edge: EdgeId, amount: C) {
        *self.half(edge.0) += amount;
        *self.half(edge.0 + 1) -= amount;
    }

    /// Levels by breadth-first search from `source`; stops once the sink's level is known
    /// (no shortest augmenting path goes through a node at the sink's level or beyond).
    fn bfs(&mut self, source: usize, sink: usize) -> bool {
        self.level.fill(-1);
        self.level[source] = 0;
        self.queue.clear();
        self.queue.push(source as u32);
        let mut head = 0;
        while head < self.queue.len() {
            let node = self.queue[head] as usize;
            head += 1;
            let next = self.level[node] + 1;
            let run = self.first[node] as usize..self.first[node + 1] as usize;
            for (&to, &residual) in self.head[run.clone()].iter().zip(&self.residual[run]) {
                let to = to as usize;
                if residual > C::ZERO && self.level[to] < 0 {
                    self.level[to] = next;
                    if to == sink {
                        return true;
                    }
                    self.queue.push(to as u32);
                }
            }
        }
        false
    }

    /// Pushes up to `limit` from `node` towards the sink along the level graph, through as
    /// many edges as it takes: one call saturates a whole subtree of shortest paths instead
    /// of walking down from the source once per path. A node that returns less than it was
    /// offered has no path left in this phase (its cursor is at its end).
    fn dfs(&mut self, node: usize, sink: usize, limit: C) -> C {
        if node == sink {
            return limit;
        }
        let end = self.first[node + 1];
        let next = self.level[node] + 1;
        let mut pushed = C::ZERO;
        while self.cursor[node] < end {
            let p = self.cursor[node] as usize;
            let (to, residual) = (self.head[p] as usize, self.residual[p]);
            if residual > C::ZERO && self.level[to] == next {
                let got = self.dfs(to, sink, (limit - pushed).min(residual));
                if got > C::ZERO {
                    self.residual[p] -= got;
                    self.residual[self.reverse[p] as usize] += got;
                    pushed += got;
                    if pushed == limit {
                        return pushed;
                    }
                }
            }
            self.cursor[node] += 1;
        }
        pushed
    }

    /// Pushes as much more flow as fits; returns the amount added.
    fn max_flow(&mut self, source: usize, sink: usize) -> C {
        self.pack();
        let mut total = C::ZERO;
        while self.bfs(source, sink) {
            self.cursor.copy_from_slice(&self.first[..self.nodes]);
            total += self.dfs(source, sink, C::INFINITE);
        }
        total
    }

    /// Nodes reachable from `source` in the residual network: the source side of a minimum cut
    /// once `max_flow` has run.
    fn source_side(&mut self, source: usize) -> Vec<bool> {
        self.pack();
        let mut seen = vec![false; self.nodes];
        seen[source] = true;
        let mut stack = vec![source];
        while let Some(node) = stack.pop() {
            let run = self.first[node] as usize..self.first[node + 1] as usize;
            for (&to, &residual) in self.head[run.clone()].iter().zip(&self.residual[run]) {
                let to = to as usize;
                if residual > C::ZERO && !seen[to] {
                    seen[to] = true;
                    stack.push(to);
                }
            }
        }
        seen
    }
}

/// A flow network of the width its capacities need (see [`Capacity`]). Capacities and flows
/// go in and out as [`Cap`].
#[derive(Debug)]
pub enum FlowNetwork {
    Narrow(Network<i64>),
    Wide(Network<i128>),
}

/// Runs `$body` on the network inside, whichever its width.
macro_rules! on_network {
    ($net:expr, $inner:ident => $body:expr) => {
        match $net {
            FlowNetwork::Narrow($inner) => $body,
            FlowNetwork::Wide($inner) => $body,
        }
    };
}

impl FlowNetwork {
    pub fn new(nodes: usize) -> FlowNetwork {
        FlowNetwork::with_edges(nodes, 0)
    }

    /// A network of 128-bit capacities expected to get about `edges` edges.
    pub fn with_edges(nodes: usize, edges: usize) -> FlowNetwork {
        FlowNetwork::Wide(Network::with_edges(nodes, edges))
    }

    /// A network whose capacities, apart from infinite ones, add up to at most `bound`
    /// (through every change made to them later): 64 bits wide when that fits.
    pub fn with_bound(nodes: usize, edges: usize, bound: Cap) -> FlowNetwork {
        if bound <= NARROW_BOUND {
            FlowNetwork::Narrow(Network::with_edges(nodes, edges))
        } else {
            FlowNetwork::with_edges(nodes, edges)
        }
    }

    /// Whether capacities adding up to `bound` fit this network's width.
    pub fn holds(&self, bound: Cap) -> bool {
        matches!(self, FlowNetwork::Wide(_)) || bound <= NARROW_BOUND
    }

    pub fn add_edge(&mut self, from: usize, to: usize, cap: Cap) -> EdgeId {
        on_network!(self, net => net.add_edge(from, to, Capacity::from_cap(cap)))
    }

    /// The flow on `edge`.
    pub fn flow(&self, edge: EdgeId) -> Cap {
        on_network!(self, net => net.flow(edge).to_cap())
    }

    /// Sets the capacity of `edge` and clears its flow.
    pub fn set_capacity(&mut self, edge: EdgeId, cap: Cap) {
        on_network!(self, net => net.set_capacity(edge, Capacity::from_cap(cap)))
    }

    /// What `edge` can still take.
    pub fn residual(&self, edge: EdgeId) -> Cap {
        on_network!(self, net => net.residual(edge).to_cap())
    }

    pub fn widen(&mut self, edge: EdgeId, extra: Cap) {
        on_network!(self, net => net.widen(edge, Capacity::from_cap(extra)))
    }

    pub fn narrow(&mut self, edge: EdgeId, less: Cap) {
        on_network!(self, net => net.narrow(edge, Capacity::from_cap(less)))
    }

    pub fn cancel(&mut self, edge: EdgeId, amount: Cap) {
        on_network!(self, net => net.cancel(edge, Capacity::from_cap(amount)))
    }

    pub fn max_flow(&mut self, source: usize, sink: usize) -> Cap {
        on_network!(self, net => net.max_flow(source, sink).to_cap())
    }

    pub fn source_side(&mut self, source: usize) -> Vec<bool> {
        on_network!(self, net => net.source_side(source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_is_narrow_only_when_its_bound_fits_and_flows_the_same() {
        let flows = |mut net: FlowNetwork| {
            let (s, a, b, t) = (0, 1, 2, 3);
            net.add_edge(s, a, 3);
            net.add_edge(s, b, 2);
            let at = net.add_edge(a, t, 2);
            net.add_edge(b, t, 3);
            let ab = net.add_edge(a, b, INFINITE);
            let total = net.max_flow(s, t);
            (total, net.flow(at), net.flow(ab), net.source_side(s))
        };
        let narrow = FlowNetwork::with_bound(4, 5, 10);
        assert!(matches!(narrow, FlowNetwork::Narrow(_)));
        let wide = FlowNetwork::with_bound(4, 5, 1 << 100);
        assert!(matches!(wide, FlowNetwork::Wide(_)));
        assert_eq!(flows(narrow), flows(wide));
        assert_eq!(flows(FlowNetwork::with_bound(4, 5, 10)).0, 5);
    }

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

    #[test]
    fn one_phase_fills_every_branch_of_a_node() {
        // s -> a (10); a -> b1, b2, b3 (3 each) -> t: all three paths share the edge s -> a.
        let mut net = FlowNetwork::new(6);
        let into_a = net.add_edge(0, 1, 10);
        let branches: Vec<EdgeId> = (2..5)
            .map(|b| {
                net.add_edge(1, b, 3);
                net.add_edge(b, 5, 100)
            })
            .collect();
        assert_eq!(net.max_flow(0, 5), 9);
        assert_eq!(net.flow(into_a), 9);
        assert!(branches.iter().all(|&e| net.flow(e) == 3));
    }

    #[test]
    fn capacities_set_after_a_flow_and_edges_added_after_it_keep_the_flow_right() {
        let mut net = FlowNetwork::new(4);
        let first = net.add_edge(0, 1, 5);
        let out = net.add_edge(1, 3, 5);
        assert_eq!(net.max_flow(0, 3), 5);
        // Packed now: reset edges start empty (as the solver resets a whole network).
        net.set_capacity(first, 2);
        net.set_capacity(out, 5);
        assert_eq!((net.flow(first), net.residual(first)), (0, 2));
        // A new edge unpacks the network; what the edges hold survives the repacking.
        let second = net.add_edge(0, 2, 4);
        net.add_edge(2, 3, 4);
        assert_eq!(net.residual(first), 2);
        assert_eq!(net.max_flow(0, 3), 6);
        assert_eq!((net.flow(first), net.flow(second)), (2, 4));
    }

    #[test]
    fn a_network_built_on_a_dropped_ones_buffers_starts_clean() {
        let mut big = FlowNetwork::new(6);
        for v in 1..5 {
            big.add_edge(0, v, 10);
            big.add_edge(v, 5, 10);
        }
        assert_eq!(big.max_flow(0, 5), 40);
        drop(big);
        let mut small = FlowNetwork::new(3);
        let edge = small.add_edge(0, 1, 7);
        small.add_edge(1, 2, 5);
        assert_eq!(small.flow(edge), 0);
        assert_eq!(small.max_flow(0, 2), 5);
        let side = small.source_side(0);
        assert_eq!(side, vec![true, true, false]);
        release_spare_networks();
    }
}
