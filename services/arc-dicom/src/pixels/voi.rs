//! The grayscale pipeline's maths: Modality LUT by rescale (PS3.3 C.11.1), VOI window
//! functions (PS3.3 C.11.2.1.2: LINEAR, LINEAR_EXACT, SIGMOID) and the min/max window
//! used when neither the request nor the object gives one.

/// A VOI LUT Function (0028,1056).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WindowFunction {
    /// PS3.3 C.11.2.1.2.1, the default.
    #[default]
    Linear,
    /// PS3.3 C.11.2.1.3.2.
    LinearExact,
    /// PS3.3 C.11.2.1.3.1.
    Sigmoid,
}

impl WindowFunction {
    /// Parses `LINEAR`, `LINEAR_EXACT`, `SIGMOID` (any case; `-` for `_` as the WADO-RS
    /// `window` parameter writes it, PS3.18 8.3.5.1.4).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().replace('-', "_").as_str() {
            "LINEAR" => Some(Self::Linear),
            "LINEAR_EXACT" => Some(Self::LinearExact),
            "SIGMOID" => Some(Self::Sigmoid),
            _ => None,
        }
    }
}

/// A VOI window: center and width in modality units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Window Center (0028,1050).
    pub center: f64,
    /// Window Width (0028,1051).
    pub width: f64,
    /// VOI LUT Function (0028,1056).
    pub function: WindowFunction,
}

impl Window {
    /// The window spanning `min..=max` exactly, as dcmtk's min/max window computes it:
    /// center `(min + max + 1) / 2`, width `max - min + 1`, so LINEAR maps min to 0 and
    /// max to 1.
    pub fn min_max(min: f64, max: f64) -> Self {
        Window {
            center: (min + max + 1.0) / 2.0,
            width: max - min + 1.0,
            function: WindowFunction::Linear,
        }
    }

    /// The output of the window for input `x`, in `0.0..=1.0`.
    pub fn apply(&self, x: f64) -> f64 {
        let (c, w) = (self.center, self.width);
        match self.function {
            WindowFunction::Linear => {
                // PS3.3 C.11.2.1.2.1; width must be >= 1
                let w = w.max(1.0);
                let low = c - 0.5 - (w - 1.0) / 2.0;
                let high = c - 0.5 + (w - 1.0) / 2.0;
                if x <= low {
                    0.0
                } else if x > high {
                    1.0
                } else {
                    ((x - (c - 0.5)) / (w - 1.0) + 0.5).clamp(0.0, 1.0)
                }
            }
            WindowFunction::LinearExact => {
                let w = if w > 0.0 { w } else { f64::MIN_POSITIVE };
                if x <= c - w / 2.0 {
                    0.0
                } else if x > c + w / 2.0 {
                    1.0
                } else {
                    ((x - c) / w + 0.5).clamp(0.0, 1.0)
                }
            }
            WindowFunction::Sigmoid => {
                let w = if w > 0.0 { w } else { f64::MIN_POSITIVE };
                1.0 / (1.0 + (-4.0 * (x - c) / w).exp())
            }
        }
    }
}

/// 0.0..=1.0 to an 8-bit level, rounding to nearest.
pub(crate) fn to_u8(v: f64) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_window_follows_ps3_3_c_11_2_1_2_1() {
        // center 40, width 400 (a CT soft tissue window): -160.5 and below black,
        // above 239.5 white, linear in between
        let w = Window {
            center: 40.0,
            width: 400.0,
            function: WindowFunction::Linear,
        };
        assert_eq!(w.apply(-1000.0), 0.0);
        assert_eq!(w.apply(-160.5), 0.0);
        assert_eq!(w.apply(240.0), 1.0);
        assert!((w.apply(39.5) - 0.5).abs() < 1e-12);
        let y = w.apply(100.0);
        assert!((y - ((100.0 - 39.5) / 399.0 + 0.5)).abs() < 1e-12);
        // width below 1 is taken as 1: a step at the center
        let step = Window {
            center: 10.0,
            width: 0.0,
            function: WindowFunction::Linear,
        };
        assert_eq!(step.apply(9.0), 0.0);
        assert_eq!(step.apply(10.0), 1.0);
    }

    #[test]
    fn linear_exact_and_sigmoid() {
        let w = Window {
            center: 100.0,
            width: 50.0,
            function: WindowFunction::LinearExact,
        };
        assert_eq!(w.apply(75.0), 0.0);
        assert_eq!(w.apply(125.1), 1.0);
        assert!((w.apply(100.0) - 0.5).abs() < 1e-12);
        let s = Window {
            function: WindowFunction::Sigmoid,
            ..w
        };
        assert!((s.apply(100.0) - 0.5).abs() < 1e-12);
        assert!(s.apply(0.0) < 0.001 && s.apply(200.0) > 0.999);
        assert_eq!(
            WindowFunction::parse("linear-exact"),
            Some(WindowFunction::LinearExact)
        );
        assert_eq!(
            WindowFunction::parse("SIGMOID"),
            Some(WindowFunction::Sigmoid)
        );
        assert_eq!(WindowFunction::parse("cubic"), None);
    }

    #[test]
    fn min_max_window_spans_the_values() {
        let w = Window::min_max(-20.0, 300.0);
        assert_eq!(to_u8(w.apply(-20.0)), 0);
        assert_eq!(to_u8(w.apply(300.0)), 255);
        assert_eq!(to_u8(w.apply(140.0)), 128);
    }
}
