//! Multinomial logistic regression over hashed binary features, trained by deterministic SGD.
//!
//! Written here rather than taken from a crate: the models are tiny (a weight row per hashed
//! bucket), need a byte-stable artefact and a fixed-seed training order, and the maintained ML
//! crates target dense matrices.

/// A linear softmax classifier; weights are laid out bucket-major (`w[bucket * classes + class]`)
/// so one feature's scores for all classes sit together.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub classes: Vec<String>,
    pub bias: Vec<f32>,
    pub weights: Vec<f32>,
}

/// Hyper-parameters of SGD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    pub epochs: usize,
    /// Initial learning rate; it decays as `lr / (1 + decay * epoch)`.
    pub lr: f32,
    pub decay: f32,
    /// L2 penalty applied to the weights a step touches.
    pub l2: f32,
    /// Weight classes by inverse frequency (tempered by a square root).
    pub balance: bool,
    /// Return the mean of the weights after each epoch (from the second on) instead of the last.
    pub average: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { epochs: 12, lr: 0.5, decay: 0.5, l2: 1e-5, balance: true, average: false }
    }
}

/// SplitMix64: a tiny deterministic generator, so training order depends only on the seed.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

impl Linear {
    pub fn zeros(classes: Vec<String>, buckets: usize) -> Self {
        let c = classes.len();
        Linear { bias: vec![0.0; c], weights: vec![0.0; buckets * c], classes }
    }

    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Class probabilities for the features, written into `out` (length = classes).
    pub fn predict_into(&self, features: &[(u32, f32)], out: &mut [f32]) {
        let c = self.classes.len();
        out.copy_from_slice(&self.bias);
        for &(f, v) in features {
            let row = &self.weights[f as usize * c..f as usize * c + c];
            for (o, w) in out.iter_mut().zip(row) {
                *o += w * v;
            }
        }
        softmax(out);
    }

    /// Probabilities as a new vector.
    pub fn predict(&self, features: &[(u32, f32)]) -> Vec<f32> {
        let mut out = vec![0.0; self.classes.len()];
        self.predict_into(features, &mut out);
        out
    }

    /// The mean of `runs` models trained one after another on the same data (each run shuffles
    /// differently); averaging linear models is averaging their scores, a cheap ensemble.
    pub fn train_mean(
        classes: Vec<String>,
        buckets: usize,
        data: &[(&[(u32, f32)], usize)],
        cfg: &SgdConfig,
        rng: &mut SplitMix,
        runs: usize,
    ) -> Self {
        let mut m = Linear::train(classes.clone(), buckets, data, cfg, rng);
        if runs <= 1 {
            return m;
        }
        for _ in 1..runs {
            let next = Linear::train(classes.clone(), buckets, data, cfg, rng);
            for (a, b) in m.weights.iter_mut().zip(&next.weights) {
                *a += b;
            }
            for (a, b) in m.bias.iter_mut().zip(&next.bias) {
                *a += b;
            }
        }
        let k = runs as f32;
        m.weights.iter_mut().for_each(|w| *w /= k);
        m.bias.iter_mut().for_each(|b| *b /= k);
        m
    }

    /// Trains on (features, class index) pairs; the order of examples is shuffled by `rng` each epoch.
    pub fn train(
        classes: Vec<String>,
        buckets: usize,
        data: &[(&[(u32, f32)], usize)],
        cfg: &SgdConfig,
        rng: &mut SplitMix,
    ) -> Self {
        let mut m = Linear::zeros(classes, buckets);
        let c = m.classes.len();
        if data.is_empty() || c == 0 {
            return m;
        }
        let mut counts = vec![0usize; c];
        for &(_, y) in data {
            counts[y] += 1;
        }
        let class_weight: Vec<f32> = counts
            .iter()
            .map(|&k| if !cfg.balance || k == 0 { 1.0 } else { (data.len() as f32 / (c as f32 * k as f32)).sqrt() })
            .collect();
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut p = vec![0.0f32; c];
        let mut sum_w: Vec<f32> = if cfg.average { vec![0.0; m.weights.len()] } else { vec![] };
        let mut sum_b = vec![0.0f32; c];
        let mut snapshots = 0u32;
        for epoch in 0..cfg.epochs {
            rng.shuffle(&mut order);
            let lr = cfg.lr / (1.0 + cfg.decay * epoch as f32);
            for &i in &order {
                let (feats, y) = data[i];
                m.predict_into(feats, &mut p);
                let cw = class_weight[y];
                for (k, pk) in p.iter_mut().enumerate() {
                    // Gradient of the cross-entropy with respect to the score of class k.
                    *pk = (*pk - if k == y { 1.0 } else { 0.0 }) * cw;
                }
                for (b, g) in m.bias.iter_mut().zip(&p) {
                    *b -= lr * g;
                }
                for &(f, v) in feats {
                    let row = &mut m.weights[f as usize * c..f as usize * c + c];
                    for (w, g) in row.iter_mut().zip(&p) {
                        *w -= lr * (g * v + cfg.l2 * *w);
                    }
                }
            }
            if cfg.average && epoch >= 1 {
                for (s, w) in sum_w.iter_mut().zip(&m.weights) {
                    *s += w;
                }
                for (s, b) in sum_b.iter_mut().zip(&m.bias) {
                    *s += b;
                }
                snapshots += 1;
            }
        }
        if snapshots > 0 {
            let k = snapshots as f32;
            m.weights = sum_w.into_iter().map(|s| s / k).collect();
            m.bias = sum_b.into_iter().map(|s| s / k).collect();
        }
        m
    }
}

/// In-place softmax, stable for large scores.
pub fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        for x in v.iter_mut() {
            *x /= sum;
        }
    }
}

/// Index and value of the largest probability (the first on ties).
pub fn argmax(v: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &x) in v.iter().enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best
}
