//! Cropping and resampling an 8-bit image for `viewport`, `region`, `rows`/`columns`
//! (PS3.18 8.3.5.1.3, 9.1.2.1.6-8): box averaging when shrinking, bilinear when growing.

/// An 8-bit image: 1 (gray) or 3 (RGB) channels, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Image {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub data: Vec<u8>,
}

impl Image {
    /// The part `x, y, w, h` (clamped to the image; at least one pixel).
    pub fn crop(&self, x: usize, y: usize, w: usize, h: usize) -> Image {
        let x = x.min(self.width - 1);
        let y = y.min(self.height - 1);
        let w = w.clamp(1, self.width - x);
        let h = h.clamp(1, self.height - y);
        let c = self.channels;
        let mut data = Vec::with_capacity(w * h * c);
        for row in y..y + h {
            let start = (row * self.width + x) * c;
            data.extend_from_slice(&self.data[start..start + w * c]);
        }
        Image {
            width: w,
            height: h,
            channels: c,
            data,
        }
    }

    /// Mirrored left-right and/or top-bottom.
    pub fn flip(&self, horizontal: bool, vertical: bool) -> Image {
        if !horizontal && !vertical {
            return self.clone();
        }
        let c = self.channels;
        let mut data = Vec::with_capacity(self.data.len());
        for row in 0..self.height {
            let r = if vertical { self.height - 1 - row } else { row };
            for col in 0..self.width {
                let k = if horizontal {
                    self.width - 1 - col
                } else {
                    col
                };
                let at = (r * self.width + k) * c;
                data.extend_from_slice(&self.data[at..at + c]);
            }
        }
        Image { data, ..*self }
    }

    /// Resampled to `w` x `h`.
    pub fn resize(&self, w: usize, h: usize) -> Image {
        let (w, h) = (w.max(1), h.max(1));
        if w == self.width && h == self.height {
            return self.clone();
        }
        let horizontal = resample_axis(self, w, true);
        resample_axis(&horizontal, h, false)
    }
}

/// The largest size with the aspect ratio of `w` x `h` that fits in `max_w` x `max_h`
/// (either may be absent); never larger than asked, at least 1 x 1.
pub(crate) fn fit(
    w: usize,
    h: usize,
    max_w: Option<usize>,
    max_h: Option<usize>,
) -> (usize, usize) {
    let (wf, hf) = (w as f64, h as f64);
    let scale = match (max_w, max_h) {
        (None, None) => return (w, h),
        (Some(mw), None) => mw as f64 / wf,
        (None, Some(mh)) => mh as f64 / hf,
        (Some(mw), Some(mh)) => (mw as f64 / wf).min(mh as f64 / hf),
    };
    let out_w = (wf * scale).round().max(1.0) as usize;
    let out_h = (hf * scale).round().max(1.0) as usize;
    (
        max_w.map_or(out_w, |m| out_w.min(m.max(1))),
        max_h.map_or(out_h, |m| out_h.min(m.max(1))),
    )
}

/// Resamples one axis: each output pixel averages the input span it covers (fractional
/// coverage at the ends) when shrinking, and interpolates linearly when growing.
fn resample_axis(img: &Image, out: usize, horizontal: bool) -> Image {
    let (n_in, lines) = if horizontal {
        (img.width, img.height)
    } else {
        (img.height, img.width)
    };
    let c = img.channels;
    let (w, h) = if horizontal {
        (out, img.height)
    } else {
        (img.width, out)
    };
    let mut data = vec![0u8; w * h * c];
    let at = |line: usize, i: usize| -> usize {
        if horizontal {
            (line * img.width + i) * c
        } else {
            (i * img.width + line) * c
        }
    };
    let put = |line: usize, i: usize| -> usize {
        if horizontal {
            (line * w + i) * c
        } else {
            (i * w + line) * c
        }
    };
    let ratio = n_in as f64 / out as f64;
    for line in 0..lines {
        for o in 0..out {
            for ch in 0..c {
                let v = if ratio > 1.0 {
                    let (start, end) = (o as f64 * ratio, (o as f64 + 1.0) * ratio);
                    let (mut sum, mut weight) = (0.0, 0.0);
                    let mut i = start.floor() as usize;
                    while (i as f64) < end && i < n_in {
                        let cover = (end.min(i as f64 + 1.0) - start.max(i as f64)).max(0.0);
                        sum += cover * f64::from(img.data[at(line, i) + ch]);
                        weight += cover;
                        i += 1;
                    }
                    if weight > 0.0 {
                        sum / weight
                    } else {
                        0.0
                    }
                } else {
                    let pos = ((o as f64 + 0.5) * ratio - 0.5).max(0.0);
                    let i0 = (pos.floor() as usize).min(n_in - 1);
                    let i1 = (i0 + 1).min(n_in - 1);
                    let t = pos - i0 as f64;
                    f64::from(img.data[at(line, i0) + ch]) * (1.0 - t)
                        + f64::from(img.data[at(line, i1) + ch]) * t
                };
                data[put(line, o) + ch] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Image {
        width: w,
        height: h,
        channels: c,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_ratio() {
        assert_eq!(fit(512, 256, Some(128), Some(128)), (128, 64));
        assert_eq!(fit(256, 512, Some(128), Some(128)), (64, 128));
        assert_eq!(fit(100, 50, Some(200), None), (200, 100));
        assert_eq!(fit(100, 50, None, Some(10)), (20, 10));
        assert_eq!(fit(100, 50, None, None), (100, 50));
        assert_eq!(fit(1000, 1, Some(10), Some(10)), (10, 1));
    }

    #[test]
    fn shrinking_averages_and_growing_interpolates() {
        let img = Image {
            width: 4,
            height: 1,
            channels: 1,
            data: vec![0, 100, 200, 255],
        };
        assert_eq!(img.resize(2, 1).data, vec![50, 228]);
        let two = Image {
            width: 2,
            height: 1,
            channels: 1,
            data: vec![0, 200],
        };
        assert_eq!(two.resize(4, 1).data, vec![0, 50, 150, 200]);
        let rgb = Image {
            width: 2,
            height: 2,
            channels: 3,
            data: (0..12).map(|v| v * 10).collect(),
        };
        assert_eq!(rgb.resize(1, 1).data, vec![45, 55, 65]);
    }

    #[test]
    fn crop_and_flip() {
        let img = Image {
            width: 3,
            height: 2,
            channels: 1,
            data: vec![1, 2, 3, 4, 5, 6],
        };
        assert_eq!(img.crop(1, 0, 2, 2).data, vec![2, 3, 5, 6]);
        assert_eq!(img.crop(5, 5, 9, 9).data, vec![6]);
        assert_eq!(img.flip(true, false).data, vec![3, 2, 1, 6, 5, 4]);
        assert_eq!(img.flip(false, true).data, vec![4, 5, 6, 1, 2, 3]);
    }
}
