//! The generated stack: a layered DAG of `sandbox_object` blocks with fan-in (each block reads
//! the ids of 1–4 blocks of earlier layers) and fan-out (a few early "hub" blocks are read by
//! many, as a network or an IAM role is in a real stack), rendered as HCL, and its critical path.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

/// What to generate. The same parameters always give the same spec.
#[derive(Debug, Clone)]
pub struct Params {
    /// Number of resource instances (what `ss state list` counts).
    pub resources: usize,
    /// Number of layers; every block of layer L > 0 reads at least one block of layer L - 1, so
    /// the longest chain has this many blocks.
    pub layers: usize,
    pub seed: u64,
    /// Range (inclusive, in milliseconds) of each instance's `create_latency`, or none.
    pub latency_ms: Option<(u64, u64)>,
}

/// How many instances a block declares.
#[derive(Debug, Clone)]
pub enum Kind {
    Single,
    /// `count = N`.
    Count(usize),
    /// `for_each` over these keys.
    ForEach(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Block {
    pub name: String,
    pub layer: usize,
    pub kind: Kind,
    /// Indices (into [`Dag::blocks`]) of the blocks whose ids this block's `input` reads.
    pub deps: Vec<usize>,
    /// The `create_latency` of each instance, in milliseconds (empty without latency).
    pub latencies_ms: Vec<u64>,
}

impl Block {
    fn instances(&self) -> usize {
        match &self.kind {
            Kind::Single => 1,
            Kind::Count(n) => *n,
            Kind::ForEach(keys) => keys.len(),
        }
    }

    /// An expression for the ids of this block: all of its instances, so that a reader depends
    /// on the whole block whether the engine tracks dependencies per block or per instance.
    fn ids_expr(&self) -> String {
        match &self.kind {
            Kind::Single => format!("sandbox_object.{}.id", self.name),
            Kind::Count(_) => format!("sandbox_object.{}[*].id", self.name),
            Kind::ForEach(_) => format!("[for o in sandbox_object.{} : o.id]", self.name),
        }
    }
}

#[derive(Debug)]
pub struct Dag {
    pub params: Params,
    pub blocks: Vec<Block>,
}

/// SplitMix64: a tiny generator written out here rather than taken from a library so that the
/// generated specs stay identical across dependency upgrades, keeping figures comparable over
/// time.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi.saturating_sub(lo) + 1)
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Blocks of layer 0 that many later blocks read.
const HUBS: usize = 8;
/// Chance that an extra reference goes to a hub rather than to a random earlier block.
const HUB_CHANCE: f64 = 0.25;
/// A layer this wide or wider gets one `count` and one `for_each` block.
const MULTI_MIN_WIDTH: usize = 20;

impl Dag {
    pub fn generate(params: &Params) -> Dag {
        let mut rng = Rng(params.seed);
        let layers = params.layers.clamp(1, params.resources.max(1));
        let widths = layer_widths(&mut rng, params.resources, layers);
        let mut blocks: Vec<Block> = Vec::new();
        // Index ranges of each layer's blocks in `blocks`.
        let mut layer_ranges: Vec<std::ops::Range<usize>> = Vec::new();
        for (layer, &width) in widths.iter().enumerate() {
            let start = blocks.len();
            let mut kinds = Vec::new();
            let mut left = width;
            if width >= MULTI_MIN_WIDTH {
                let n = rng.between(2, 8) as usize;
                kinds.push(Kind::Count(n));
                let keys = rng.between(2, 5) as usize;
                kinds.push(Kind::ForEach((0..keys).map(|k| format!("k{k}")).collect()));
                left -= n + keys;
            }
            kinds.extend((0..left).map(|_| Kind::Single));
            for (i, kind) in kinds.into_iter().enumerate() {
                let name = match kind {
                    Kind::Single => format!("l{layer:02}_{i}"),
                    Kind::Count(_) => format!("l{layer:02}_c{i}"),
                    Kind::ForEach(_) => format!("l{layer:02}_f{i}"),
                };
                let deps = if layer == 0 {
                    Vec::new()
                } else {
                    pick_deps(&mut rng, &layer_ranges)
                };
                let mut block = Block {
                    name,
                    layer,
                    kind,
                    deps,
                    latencies_ms: Vec::new(),
                };
                if let Some((lo, hi)) = params.latency_ms {
                    block.latencies_ms = (0..block.instances())
                        .map(|_| rng.between(lo, hi))
                        .collect();
                }
                blocks.push(block);
            }
            layer_ranges.push(start..blocks.len());
        }
        Dag {
            params: params.clone(),
            blocks,
        }
    }

    pub fn instances(&self) -> usize {
        self.blocks.iter().map(Block::instances).sum()
    }

    pub fn references(&self) -> usize {
        self.blocks.iter().map(|b| b.deps.len()).sum()
    }

    pub fn count_blocks(&self) -> usize {
        let is_count = |b: &&Block| matches!(b.kind, Kind::Count(_));
        self.blocks.iter().filter(is_count).count()
    }

    pub fn for_each_blocks(&self) -> usize {
        let is_for_each = |b: &&Block| matches!(b.kind, Kind::ForEach(_));
        self.blocks.iter().filter(is_for_each).count()
    }

    /// The largest number of blocks reading one block.
    pub fn max_fan_out(&self) -> usize {
        let mut readers = vec![0usize; self.blocks.len()];
        for dep in self.blocks.iter().flat_map(|b| &b.deps) {
            readers[*dep] += 1;
        }
        readers.into_iter().max().unwrap_or(0)
    }

    /// The longest chain of create latencies: a block can start when every block it reads has
    /// finished, and finishes when its slowest instance has. Blocks are in topological order
    /// (dependencies always come from earlier layers), so one pass suffices.
    pub fn critical_path(&self) -> Duration {
        let mut finish_ms = vec![0u64; self.blocks.len()];
        for (i, block) in self.blocks.iter().enumerate() {
            let start = block.deps.iter().map(|d| finish_ms[*d]).max().unwrap_or(0);
            let own = block.latencies_ms.iter().copied().max().unwrap_or(0);
            finish_ms[i] = start + own;
        }
        Duration::from_millis(finish_ms.into_iter().max().unwrap_or(0))
    }

    /// Writes the spec into `dir`: `main.hcl` (settings and provider) and one file per layer.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        fs::write(
            dir.join("main.hcl"),
            "# Generated by `cargo bench --bench scale`.\n\nss {\n  stack = \"scale\"\n}\n\n\
             provider \"sandbox\" {}\n",
        )?;
        let mut files = vec![String::new(); self.params.layers.max(1)];
        for block in &self.blocks {
            if let Some(text) = files.get_mut(block.layer) {
                self.render(block, text);
            }
        }
        for (layer, text) in files.iter().enumerate() {
            if !text.is_empty() {
                fs::write(dir.join(format!("layer_{layer:02}.hcl")), text)?;
            }
        }
        Ok(())
    }

    fn render(&self, block: &Block, out: &mut String) {
        let mut input = format!("layer = {}", block.layer);
        let latency = |ms: &u64| format!("\"{ms}ms\"");
        let mut extra = String::new();
        match &block.kind {
            Kind::Single => {
                if let Some(ms) = block.latencies_ms.first() {
                    let _ = writeln!(extra, "  create_latency = {}", latency(ms));
                }
            }
            Kind::Count(n) => {
                let _ = writeln!(extra, "  count          = {n}");
                input.push_str(", index = count.index");
                if !block.latencies_ms.is_empty() {
                    let list: Vec<String> = block.latencies_ms.iter().map(latency).collect();
                    let _ = writeln!(
                        extra,
                        "  create_latency = element([{}], count.index)",
                        list.join(", ")
                    );
                }
            }
            Kind::ForEach(keys) => {
                input.push_str(", key = each.key");
                if block.latencies_ms.is_empty() {
                    let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
                    let _ = writeln!(extra, "  for_each       = toset([{}])", quoted.join(", "));
                } else {
                    let items: Vec<String> = keys
                        .iter()
                        .zip(&block.latencies_ms)
                        .map(|(k, ms)| format!("{k} = {}", latency(ms)))
                        .collect();
                    let _ = writeln!(extra, "  for_each       = {{ {} }}", items.join(", "));
                    let _ = writeln!(extra, "  create_latency = each.value");
                }
            }
        }
        for (i, dep) in block.deps.iter().enumerate() {
            if let Some(dep) = self.blocks.get(*dep) {
                let _ = write!(input, ", d{i} = {}", dep.ids_expr());
            }
        }
        let _ = write!(
            out,
            "resource \"sandbox_object\" \"{}\" {{\n{extra}  input          = {{ {input} }}\n}}\n\n",
            block.name
        );
    }
}

/// Splits `resources` over `layers` (each at least 1) with random weights between 0.5 and 1.5.
fn layer_widths(rng: &mut Rng, resources: usize, layers: usize) -> Vec<usize> {
    let weights: Vec<f64> = (0..layers).map(|_| 0.5 + rng.unit()).collect();
    let total: f64 = weights.iter().sum();
    let spare = resources.saturating_sub(layers);
    let mut widths: Vec<usize> = weights
        .iter()
        .map(|w| 1 + (spare as f64 * w / total) as usize)
        .collect();
    let mut missing = resources.saturating_sub(widths.iter().sum());
    let mut layer = 0;
    while missing > 0 {
        widths[layer % layers] += 1;
        missing -= 1;
        layer += 1;
    }
    widths
}

/// 1–4 distinct earlier blocks: always one of the previous layer (so chains run through every
/// layer), then hubs or blocks of random earlier layers.
fn pick_deps(rng: &mut Rng, layer_ranges: &[std::ops::Range<usize>]) -> Vec<usize> {
    let Some(previous) = layer_ranges.last() else {
        return Vec::new();
    };
    let pick_in =
        |rng: &mut Rng, range: &std::ops::Range<usize>| range.start + rng.below(range.len());
    let wanted = rng.between(1, 4) as usize;
    let mut deps = vec![pick_in(rng, previous)];
    let hubs = layer_ranges[0].start..layer_ranges[0].start + layer_ranges[0].len().min(HUBS);
    for _ in 1..wanted {
        let dep = if rng.unit() < HUB_CHANCE {
            pick_in(rng, &hubs)
        } else {
            let layer = &layer_ranges[rng.below(layer_ranges.len())];
            pick_in(rng, layer)
        };
        if !deps.contains(&dep) {
            deps.push(dep);
        }
    }
    deps
}
