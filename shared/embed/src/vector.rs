//! Comparing and normalising vectors.

/// The dot product of `a` and `b` over their common length (vectors of one embedder all have
/// the same length). For unit vectors it is their cosine similarity, in `[-1, 1]`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The cosine similarity of `a` and `b`, in `[-1, 1]`; 0 when either is the zero vector (a
/// text with nothing to embed is similar to nothing).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let norms = dot(a, a).sqrt() * dot(b, b).sqrt();
    if norms == 0.0 || !norms.is_finite() {
        0.0
    } else {
        (dot(a, b) / norms).clamp(-1.0, 1.0)
    }
}

/// Scales `v` to L2 norm 1 in place; the zero vector stays zero.
pub fn l2_normalise(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The blocks, each scaled by its weight, one after another, then L2-normalised: for unit
/// blocks the cosine of two such vectors is the weighted mean (by squared weight) of the
/// blocks' cosines. Length: the sum of the blocks' lengths.
pub fn concat_weighted(blocks: &[(&[f32], f32)]) -> Vec<f32> {
    let mut v: Vec<f32> = blocks
        .iter()
        .flat_map(|(block, w)| block.iter().map(move |x| x * w))
        .collect();
    l2_normalise(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_dot_and_normalise() {
        let mut v = vec![3.0, 4.0];
        l2_normalise(&mut v);
        assert_eq!(v, [0.6, 0.8]);
        assert!((dot(&v, &v) - 1.0).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[-1.0, 0.0]) + 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        let mut zero = vec![0.0; 3];
        l2_normalise(&mut zero);
        assert_eq!(zero, [0.0; 3]);
        assert_eq!(cosine(&zero, &[1.0, 1.0, 1.0]), 0.0);
    }

    #[test]
    fn weighted_concatenation() {
        let v = concat_weighted(&[(&[1.0, 0.0], 3.0), (&[0.0, 1.0, 0.0], 4.0)]);
        assert_eq!(v, [0.6, 0.0, 0.0, 0.8, 0.0]);
        assert_eq!(concat_weighted(&[(&[0.0], 1.0), (&[0.0], 2.0)]), [0.0, 0.0]);
    }
}
