//! The inverse DCT of one 8x8 block (ITU-T T.81 A.3.3) in floating point, separable
//! (rows, then columns), with dequantization before and level shift and clamping after.
//! Floating point keeps it within a fraction of a sample of the exact transform, so the
//! result is within ±1 of any accurate decoder (libjpeg's integer IDCT included).

use std::sync::OnceLock;

/// `BASIS[x * 8 + u] = C(u) / 2 * cos((2x + 1) u π / 16)`, C(0) = 1/√2, else 1: the 1-D
/// IDCT as a matrix. Two passes give T.81 A.3.3's 1/4 C(u) C(v) factor.
fn basis() -> &'static [f32; 64] {
    static BASIS: OnceLock<[f32; 64]> = OnceLock::new();
    BASIS.get_or_init(|| {
        let mut t = [0f32; 64];
        for x in 0..8 {
            for u in 0..8 {
                let c = if u == 0 {
                    std::f64::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                let angle = ((2 * x + 1) * u) as f64 * std::f64::consts::PI / 16.0;
                t[x * 8 + u] = (c / 2.0 * angle.cos()) as f32;
            }
        }
        t
    })
}

/// Dequantizes `coefs` (natural order) with `quant` and transforms them into `out`
/// (row-major samples before the level shift).
pub(crate) fn idct(coefs: &[i32; 64], quant: &[f32; 64], out: &mut [f32; 64]) {
    let mut f = [0f32; 64];
    let mut ac = false;
    for i in 0..64 {
        f[i] = coefs[i] as f32 * quant[i];
        ac |= i > 0 && coefs[i] != 0;
    }
    if !ac {
        // a flat block, by far the most common: every sample is DC / 8
        out.fill(f[0] / 8.0);
        return;
    }
    let t = basis();
    // rows: tmp[v][x] = Σu T[x][u] F[v][u]; rows of zeros stay zero
    let mut tmp = [0f32; 64];
    for v in 0..8 {
        let row = &f[v * 8..v * 8 + 8];
        if row.iter().all(|&c| c == 0.0) {
            continue;
        }
        for x in 0..8 {
            let b = &t[x * 8..x * 8 + 8];
            tmp[v * 8 + x] = (0..8).map(|u| b[u] * row[u]).sum();
        }
    }
    // columns: out[y][x] = Σv T[y][v] tmp[v][x]
    for y in 0..8 {
        let b = &t[y * 8..y * 8 + 8];
        for x in 0..8 {
            out[y * 8 + x] = (0..8).map(|v| b[v] * tmp[v * 8 + x]).sum();
        }
    }
}

/// Level shift by 2^(P-1) and rounding to the nearest sample in 0..2^P - 1 (T.81 A.3.1).
pub(crate) fn to_sample(v: f32, precision: u8) -> u16 {
    let level = (1u32 << (precision - 1)) as f32;
    let max = ((1u32 << precision) - 1) as f32;
    (v + level).round().clamp(0.0, max) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// T.81 A.3.3 written out: s(y, x) = 1/4 Σu Σv C(u) C(v) S(v, u) cos… cos…, in f64.
    fn direct(f: &[f64; 64]) -> [f64; 64] {
        let c = |u: usize| {
            if u == 0 {
                std::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            }
        };
        let mut out = [0f64; 64];
        for y in 0..8 {
            for x in 0..8 {
                let mut s = 0.0;
                for v in 0..8 {
                    for u in 0..8 {
                        s += c(u)
                            * c(v)
                            * f[v * 8 + u]
                            * (((2 * x + 1) * u) as f64 * std::f64::consts::PI / 16.0).cos()
                            * (((2 * y + 1) * v) as f64 * std::f64::consts::PI / 16.0).cos();
                    }
                }
                out[y * 8 + x] = s / 4.0;
            }
        }
        out
    }

    /// A deterministic pseudo-random sequence (xorshift).
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn matches_the_direct_formula() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut worst = 0f64;
        for round in 0..500 {
            let mut coefs = [0i32; 64];
            let mut quant = [1f32; 64];
            // sparse and dense blocks, 12-bit range: DC up to ±2^15 after dequantization
            let density = [2, 8, 64][round % 3];
            for i in 0..64 {
                if rng(&mut seed) % 64 < density {
                    coefs[i] = (rng(&mut seed) % 4001) as i32 - 2000;
                }
                quant[i] = (1 + rng(&mut seed) % 16) as f32;
            }
            let mut out = [0f32; 64];
            idct(&coefs, &quant, &mut out);
            let f: [f64; 64] = std::array::from_fn(|i| f64::from(coefs[i]) * f64::from(quant[i]));
            let want = direct(&f);
            for i in 0..64 {
                worst = worst.max((f64::from(out[i]) - want[i]).abs());
            }
        }
        // far below the half sample where rounding could differ
        assert!(worst < 0.05, "largest deviation {worst}");
    }

    #[test]
    fn flat_blocks_and_single_frequencies() {
        let mut coefs = [0i32; 64];
        coefs[0] = 100;
        let mut out = [0f32; 64];
        idct(&coefs, &[2.0; 64], &mut out);
        assert!(out.iter().all(|&v| (v - 25.0).abs() < 1e-4));
        coefs[1] = 10; // horizontal frequency 1: varies along x only
        idct(&coefs, &[1.0; 64], &mut out);
        for y in 1..8 {
            for x in 0..8 {
                assert!((out[y * 8 + x] - out[x]).abs() < 1e-4);
            }
        }
        assert!(out[0] > out[7]);
    }

    #[test]
    fn level_shift_rounds_and_clamps() {
        assert_eq!(to_sample(0.0, 12), 2048);
        assert_eq!(to_sample(-2048.4, 12), 0);
        assert_eq!(to_sample(-5000.0, 12), 0);
        assert_eq!(to_sample(2047.0, 12), 4095);
        assert_eq!(to_sample(9000.0, 12), 4095);
        assert_eq!(to_sample(1.6, 8), 130);
        assert_eq!(to_sample(-128.6, 8), 0);
    }
}
