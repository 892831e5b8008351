//! From decoded component planes to interleaved samples: subsampled components brought to
//! full size (the triangle filter of libjpeg's "fancy" upsampling for a factor 2, repeated
//! samples otherwise) and YCbCr turned into RGB with the JFIF equations that PS3.3
//! C.7.6.3.1.2 gives for YBR_FULL, centred on 2^(P-1).

use super::markers::Frame;

/// One decoded component, MCU padding included.
pub(crate) struct Plane {
    pub data: Vec<u16>,
    /// Samples per row of `data`.
    pub stride: usize,
}

/// The samples of every component interleaved (colour-by-pixel), `width * height * Nf`
/// of them; three components are converted from YCbCr to RGB when `ycbcr`.
pub(crate) fn interleave(frame: &Frame, planes: &[Plane], ycbcr: bool) -> Vec<u16> {
    let (w, h, n) = (frame.width, frame.height, planes.len());
    let full: Vec<Vec<u16>> = planes
        .iter()
        .enumerate()
        .map(|(c, plane)| {
            let k = &frame.components[c];
            let (cw, ch) = frame.component_size(c);
            upsample(plane, cw, ch, frame.hmax / k.h, frame.vmax / k.v, w, h)
        })
        .collect();
    let mut out = vec![0u16; w * h * n];
    if n == 3 && ycbcr {
        let centre = f32::from(1u16 << (frame.precision - 1));
        let max = f32::from(((1u32 << frame.precision) - 1) as u16);
        let px = |v: f32| v.round().clamp(0.0, max) as u16;
        for (i, rgb) in out.chunks_exact_mut(3).enumerate() {
            let y = f32::from(full[0][i]);
            let cb = f32::from(full[1][i]) - centre;
            let cr = f32::from(full[2][i]) - centre;
            rgb[0] = px(y + 1.402 * cr);
            rgb[1] = px(y - 0.344_136 * cb - 0.714_136 * cr);
            rgb[2] = px(y + 1.772 * cb);
        }
    } else {
        for (c, plane) in full.iter().enumerate() {
            for (i, &v) in plane.iter().enumerate() {
                out[i * n + c] = v;
            }
        }
    }
    out
}

/// Component samples (`cw` x `ch` valid in `plane`) scaled by `fx`, `fy` to `w` x `h`.
fn upsample(
    plane: &Plane,
    cw: usize,
    ch: usize,
    fx: usize,
    fy: usize,
    w: usize,
    h: usize,
) -> Vec<u16> {
    let at = |x: usize, y: usize| u32::from(plane.data[y * plane.stride + x]);
    let mut out = Vec::with_capacity(w * h);
    if fx == 1 && fy == 1 {
        for y in 0..h {
            out.extend_from_slice(&plane.data[y * plane.stride..y * plane.stride + w]);
        }
        return out;
    }
    let xs: Vec<Taps> = (0..w).map(|x| taps(x, fx, cw)).collect();
    for y in 0..h {
        let ty = taps(y, fy, ch);
        for tx in &xs {
            let row = |yy: usize| tx.near_w * at(tx.near, yy) + tx.far_w * at(tx.far, yy);
            let sum = ty.near_w * row(ty.near) + ty.far_w * row(ty.far);
            out.push(((sum + 8) >> 4) as u16);
        }
    }
    out
}

/// The two input samples an output sample is made of, with weights summing to 4.
struct Taps {
    near: usize,
    far: usize,
    near_w: u32,
    far_w: u32,
}

/// For a factor 2, output `o` lies a quarter sample from input `o / 2` towards its
/// neighbour on `o`'s side: weights 3/4 and 1/4, the edge sample repeated. Other factors
/// repeat the input sample.
fn taps(o: usize, factor: usize, n: usize) -> Taps {
    let i = (o / factor).min(n - 1);
    if factor == 2 {
        let far = if o.is_multiple_of(2) {
            i.saturating_sub(1)
        } else {
            (i + 1).min(n - 1)
        };
        Taps {
            near: i,
            far,
            near_w: 3,
            far_w: 1,
        }
    } else {
        Taps {
            near: i,
            far: i,
            near_w: 4,
            far_w: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixels::jpeg::markers::Component;

    fn frame(w: usize, h: usize, sampling: &[(usize, usize)], precision: u8) -> Frame {
        let components: Vec<Component> = sampling
            .iter()
            .enumerate()
            .map(|(i, &(h, v))| Component {
                id: i as u8 + 1,
                h,
                v,
                tq: 0,
            })
            .collect();
        let hmax = sampling.iter().map(|s| s.0).max().unwrap();
        let vmax = sampling.iter().map(|s| s.1).max().unwrap();
        Frame {
            precision,
            height: h,
            width: w,
            components,
            hmax,
            vmax,
        }
    }

    #[test]
    fn ycbcr_to_rgb_at_8_and_12_bits() {
        let f = frame(1, 1, &[(1, 1), (1, 1), (1, 1)], 8);
        let planes = |y, cb, cr| {
            vec![
                Plane {
                    data: vec![y],
                    stride: 1,
                },
                Plane {
                    data: vec![cb],
                    stride: 1,
                },
                Plane {
                    data: vec![cr],
                    stride: 1,
                },
            ]
        };
        assert_eq!(
            interleave(&f, &planes(128, 128, 128), true),
            vec![128, 128, 128]
        );
        // pure red in JFIF YCbCr: Y 76, Cb 85, Cr 255
        assert_eq!(interleave(&f, &planes(76, 85, 255), true), vec![254, 0, 0]);
        assert_eq!(
            interleave(&f, &planes(76, 85, 255), false),
            vec![76, 85, 255]
        );
        let f = frame(1, 1, &[(1, 1), (1, 1), (1, 1)], 12);
        assert_eq!(
            interleave(&f, &planes(2048, 2048, 2048), true),
            vec![2048, 2048, 2048]
        );
        assert_eq!(
            interleave(&f, &planes(4095, 2048, 4095), true),
            vec![4095, 2633, 4095]
        );
    }

    #[test]
    fn factor_two_is_a_triangle_filter() {
        // one row of 4 chroma samples for 8 luma samples (4:2:2)
        let f = frame(8, 1, &[(2, 1), (1, 1)], 8);
        let y = Plane {
            data: vec![0; 16 * 8],
            stride: 16,
        };
        let mut c = vec![0u16; 8 * 8];
        c[..4].copy_from_slice(&[0, 100, 200, 200]);
        let out = interleave(&f, &[y, Plane { data: c, stride: 8 }], false);
        let chroma: Vec<u16> = out.iter().skip(1).step_by(2).copied().collect();
        // (3 * near + far) / 4, edges repeated
        assert_eq!(chroma, vec![0, 25, 75, 125, 175, 200, 200, 200]);
    }

    #[test]
    fn other_factors_repeat() {
        let f = frame(4, 1, &[(4, 1), (1, 1)], 8);
        let y = Plane {
            data: vec![7; 32 * 8],
            stride: 32,
        };
        let mut c = vec![0u16; 64];
        c[0] = 9;
        let out = interleave(&f, &[y, Plane { data: c, stride: 8 }], false);
        assert_eq!(out, vec![7, 9, 7, 9, 7, 9, 7, 9]);
    }
}
