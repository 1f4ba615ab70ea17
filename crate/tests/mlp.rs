//! Mlp: finite-difference gradient checks of every layer kind, a separable
//! problem, the Keras-style summary, early stopping and validation.

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use speaker_similarity::models::mlp::layers::{
    dropout, dropout_backward, dropout_mask, relu, relu_backward, softmax, softmax_cross_entropy,
    Dense, WeightInit,
};
use speaker_similarity::models::{Mlp, MlpParams};

fn rand_mat(rng: &mut StdRng, r: usize, c: usize) -> Array2<f32> {
    Array2::from_shape_simple_fn((r, c), || rng.random_range(-1.0f32..1.0))
}

/// Loss = Σ g ⊙ y for a fixed random `g`, so ∂L/∂y = g.
fn lin_loss(y: &Array2<f32>, g: &Array2<f32>) -> f64 {
    y.iter()
        .zip(g)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum()
}

fn assert_close(num: f64, ana: f64, what: &str) {
    let err = (num - ana).abs() / (num.abs() + ana.abs()).max(1e-2);
    assert!(
        err < 2e-2,
        "{what}: numeric {num} vs analytic {ana} (rel {err})"
    );
}

#[test]
fn dense_gradients_match_finite_differences() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut layer = Dense::new(5, 4, WeightInit::GlorotUniform, &mut rng).unwrap();
    layer.bias = Array1::from_shape_simple_fn(4, || rng.random_range(-0.5f32..0.5));
    let x = rand_mat(&mut rng, 3, 5);
    let g = rand_mat(&mut rng, 3, 4);
    let grads = layer.backward(x.view(), g.view()).unwrap();
    let eps = 1e-2f32;
    for i in 0..5 {
        for j in 0..4 {
            let mut p = layer.clone();
            p.weights[[i, j]] += eps;
            let mut m = layer.clone();
            m.weights[[i, j]] -= eps;
            let num = (lin_loss(&p.forward(x.view()).unwrap(), &g)
                - lin_loss(&m.forward(x.view()).unwrap(), &g))
                / (2.0 * f64::from(eps));
            assert_close(num, f64::from(grads.weights[[i, j]]), "dW");
        }
    }
    for j in 0..4 {
        let mut p = layer.clone();
        p.bias[j] += eps;
        let mut m = layer.clone();
        m.bias[j] -= eps;
        let num = (lin_loss(&p.forward(x.view()).unwrap(), &g)
            - lin_loss(&m.forward(x.view()).unwrap(), &g))
            / (2.0 * f64::from(eps));
        assert_close(num, f64::from(grads.bias[j]), "db");
    }
    for r in 0..3 {
        for c in 0..5 {
            let mut xp = x.clone();
            xp[[r, c]] += eps;
            let mut xm = x.clone();
            xm[[r, c]] -= eps;
            let num = (lin_loss(&layer.forward(xp.view()).unwrap(), &g)
                - lin_loss(&layer.forward(xm.view()).unwrap(), &g))
                / (2.0 * f64::from(eps));
            assert_close(num, f64::from(grads.input[[r, c]]), "dx");
        }
    }
}

#[test]
fn relu_gradient_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(2);
    // Keep inputs away from the kink at 0.
    let x = rand_mat(&mut rng, 4, 6).mapv(|v| if v.abs() < 0.1 { v + 0.3 } else { v });
    let g = rand_mat(&mut rng, 4, 6);
    let ana = relu_backward(x.view(), g.view());
    let eps = 1e-3f32;
    for r in 0..4 {
        for c in 0..6 {
            let mut xp = x.clone();
            xp[[r, c]] += eps;
            let mut xm = x.clone();
            xm[[r, c]] -= eps;
            let num = (lin_loss(&relu(xp.view()), &g) - lin_loss(&relu(xm.view()), &g))
                / (2.0 * f64::from(eps));
            assert_close(num, f64::from(ana[[r, c]]), "relu");
        }
    }
}

#[test]
fn dropout_gradient_with_fixed_mask_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(3);
    let x = rand_mat(&mut rng, 4, 6);
    let g = rand_mat(&mut rng, 4, 6);
    let mask = dropout_mask(4, 6, 0.3, &mut rng);
    assert!(mask
        .iter()
        .all(|&m| m == 0.0 || (m - 1.0 / 0.7).abs() < 1e-6));
    assert!(mask.iter().any(|&m| m == 0.0));
    let ana = dropout_backward(g.view(), mask.view());
    let eps = 1e-2f32;
    for r in 0..4 {
        for c in 0..6 {
            let mut xp = x.clone();
            xp[[r, c]] += eps;
            let mut xm = x.clone();
            xm[[r, c]] -= eps;
            let num = (lin_loss(&dropout(xp.view(), mask.view()), &g)
                - lin_loss(&dropout(xm.view(), mask.view()), &g))
                / (2.0 * f64::from(eps));
            assert_close(num, f64::from(ana[[r, c]]), "dropout");
        }
    }
}

#[test]
fn softmax_cross_entropy_gradient_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(4);
    let z = rand_mat(&mut rng, 5, 7).mapv(|v| v * 3.0);
    let y = vec![0, 3, 6, 2, 2];
    let (loss, grad) = softmax_cross_entropy(z.view(), &y).unwrap();
    // Loss by hand.
    let p = softmax(z.view());
    let want: f32 = -y
        .iter()
        .enumerate()
        .map(|(i, &t)| p[[i, t]].ln())
        .sum::<f32>()
        / 5.0;
    assert!((loss - want).abs() < 1e-5);
    let eps = 1e-2f32;
    for r in 0..5 {
        for c in 0..7 {
            let mut zp = z.clone();
            zp[[r, c]] += eps;
            let mut zm = z.clone();
            zm[[r, c]] -= eps;
            let lp = softmax_cross_entropy(zp.view(), &y).unwrap().0;
            let lm = softmax_cross_entropy(zm.view(), &y).unwrap().0;
            let num = f64::from(lp - lm) / (2.0 * f64::from(eps));
            assert_close(num, f64::from(grad[[r, c]]), "softmax-ce");
        }
    }
    assert!(softmax_cross_entropy(z.view(), &[0, 1]).is_err());
    assert!(softmax_cross_entropy(z.view(), &[0, 1, 2, 3, 9]).is_err());
}

/// Three Gaussian blobs in 6 dimensions, linearly separable.
fn blobs(n: usize, seed: u64) -> (Array2<f32>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let centers = [
        [3.0f32, 0.0, 0.0, 1.0, 0.0, 0.0],
        [0.0, 3.0, 0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 3.0, 0.0, 0.0, 1.0],
    ];
    let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let x = Array2::from_shape_fn((n, 6), |(i, j)| {
        centers[y[i]][j] * 10.0 + rng.random_range(-1.0f32..1.0)
    });
    (x, y)
}

#[test]
fn learns_a_separable_problem_with_history_and_callback() {
    let (x, y) = blobs(300, 5);
    let (xv, yv) = blobs(90, 6);
    let params = MlpParams {
        hidden: vec![16, 16],
        epochs: 40,
        batch_size: 16,
        // Accuracy reaches 1.0 at once; watch the loss so training goes on.
        monitor: speaker_similarity::models::Monitor::ValLoss,
        patience: Some(10),
        ..MlpParams::default()
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let (mlp, h) = Mlp::fit(
        x.view(),
        &y,
        3,
        Some((xv.view(), &yv)),
        &params,
        &|p| match p {
            speaker_similarity::progress::Progress::Epoch(kind, log) => {
                assert_eq!(kind, speaker_similarity::pipeline::ModelKind::Mlp);
                seen.lock().unwrap().push(log.epoch);
            }
            other => panic!("unexpected {other:?}"),
        },
    )
    .unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen, (1..=h.loss.len()).collect::<Vec<_>>());
    assert_eq!(seen.len(), h.loss.len());
    assert_eq!(h.val_accuracy.len(), h.loss.len());
    let (vl, va) = mlp.evaluate(xv.view(), &yv).unwrap();
    assert_eq!(va, 1.0, "validation accuracy");
    assert!(vl < 0.1, "validation loss {vl}");
    assert!(h.loss.last().unwrap() < &h.loss[0]);
    assert_eq!(mlp.predict(xv.view()).unwrap(), yv);
    let p = mlp.predict_proba(xv.view()).unwrap();
    assert!((p.row(0).sum() - 1.0).abs() < 1e-5);
    // Same seed, same model.
    let (mlp2, _) = Mlp::fit(x.view(), &y, 3, Some((xv.view(), &yv)), &params, &|_| {}).unwrap();
    assert_eq!(mlp, mlp2);
    // The callback can stop training.
    let (_, h3) = Mlp::fit_until(x.view(), &y, 3, None, &params, &mut |log| log.epoch < 3).unwrap();
    assert_eq!(h3.loss.len(), 3);
    assert!(h3.stopped_early);
    // Unscaled variant works too.
    let raw = MlpParams {
        standardize: false,
        ..params.clone()
    };
    let (m4, _) = Mlp::fit(x.view(), &y, 3, None, &raw, &|_| {}).unwrap();
    assert!(m4.scaler().is_none());
}

#[test]
fn early_stopping_restores_the_best_epoch() {
    let (x, y) = blobs(120, 7);
    let (xv, yv) = blobs(60, 8);
    let params = MlpParams {
        hidden: vec![8],
        epochs: 200,
        patience: Some(5),
        ..MlpParams::default()
    };
    let (mlp, h) = Mlp::fit(x.view(), &y, 3, Some((xv.view(), &yv)), &params, &|_| {}).unwrap();
    assert!(h.stopped_early);
    let best = h.best_epoch.unwrap();
    assert_eq!(h.loss.len(), best + 5);
    let (_, va) = mlp.evaluate(xv.view(), &yv).unwrap();
    assert_eq!(va, h.val_accuracy[best - 1]);
}

#[test]
fn summary_matches_the_original_keras_table() {
    let (x, _) = blobs(60, 9);
    let x52 = Array2::from_shape_fn((78, 52), |(i, j)| x[[i % 60, j % 6]] + j as f32);
    let y: Vec<usize> = (0..78).map(|i| i % 39).collect();
    let params = MlpParams {
        epochs: 1,
        patience: None,
        ..MlpParams::original()
    };
    let (mlp, _) = Mlp::fit(x52.view(), &y, 39, None, &params, &|_| {}).unwrap();
    let s = mlp.summary();
    println!("{s}");
    assert_eq!(mlp.n_params(), 113_739);
    assert!(s.contains("Total params: 113,739"));
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines[0], "Model: \"sequential\"");
    assert_eq!(
        lines[2],
        "Layer (type)                 Output Shape              Param #   "
    );
    assert_eq!(
        lines[4],
        "dense (Dense)                (None, 100)               5300      "
    );
    assert!(s.contains("dropout_3 (Dropout)          (None, 200)               0         "));
    assert!(s.contains("dense_4 (Dense)              (None, 39)                7839      "));
    assert!(s.contains("activation_4 (Activation)    (None, 39)                0         "));
    assert_eq!(s.lines().filter(|l| l.contains("(Dense)")).count(), 5);
    assert_eq!(s.lines().filter(|l| l.contains("(Dropout)")).count(), 4);
}

#[test]
fn bad_inputs_are_errors() {
    let (x, y) = blobs(30, 10);
    let p = MlpParams {
        epochs: 1,
        ..MlpParams::default()
    };
    assert!(Mlp::fit(x.view(), &y[..10], 3, None, &p, &|_| {}).is_err());
    assert!(Mlp::fit(x.view(), &y, 2, None, &p, &|_| {}).is_err());
    assert!(Mlp::fit(x.view(), &y, 1, None, &p, &|_| {}).is_err());
    let mut xn = x.clone();
    xn[[0, 0]] = f32::INFINITY;
    assert!(Mlp::fit(xn.view(), &y, 3, None, &p, &|_| {}).is_err());
    assert!(MlpParams {
        dropout: 1.0,
        ..MlpParams::default()
    }
    .validate()
    .is_err());
    assert!(MlpParams {
        batch_size: 0,
        ..MlpParams::default()
    }
    .validate()
    .is_err());
    assert!(MlpParams {
        hidden: vec![0],
        ..MlpParams::default()
    }
    .validate()
    .is_err());
    let (m, _) = Mlp::fit(x.view(), &y, 3, None, &p, &|_| {}).unwrap();
    assert!(m.predict(Array2::<f32>::zeros((2, 5)).view()).is_err());
    assert!(m.predict(Array2::<f32>::zeros((0, 6)).view()).is_err());
}

#[test]
fn whole_network_gradients_of_the_training_path_match_finite_differences() {
    let mut rng = StdRng::seed_from_u64(11);
    let x = rand_mat(&mut rng, 9, 6);
    let y: Vec<usize> = (0..9).map(|i| i % 4).collect();
    // A trained-ish network with dropout (turned off for the check) and a scaler.
    let params = MlpParams {
        hidden: vec![7, 5],
        epochs: 3,
        batch_size: 4,
        ..MlpParams::default()
    };
    let (mlp, _) = Mlp::fit(x.view(), &y, 4, None, &params, &|_| {}).unwrap();
    let (loss, grads) = mlp.loss_and_gradients(x.view(), &y).unwrap();
    let (eval_loss, _) = mlp.evaluate(x.view(), &y).unwrap();
    assert!((loss - eval_loss).abs() < 1e-5, "{loss} vs {eval_loss}");
    let eps = 1e-3f32;
    let loss_of = |layers: Vec<Dense>| {
        let m = Mlp::from_parts(layers, 0.0, mlp.scaler().cloned()).unwrap();
        f64::from(m.evaluate(x.view(), &y).unwrap().0)
    };
    let mut checked = 0;
    for (l, (gw, gb)) in grads.iter().enumerate() {
        for idx in [(0usize, 0usize), (1, 2), (gw.nrows() - 1, gw.ncols() - 1)] {
            let mut p = mlp.layers().to_vec();
            p[l].weights[idx] += eps;
            let mut m = mlp.layers().to_vec();
            m[l].weights[idx] -= eps;
            let num = (loss_of(p) - loss_of(m)) / (2.0 * f64::from(eps));
            assert_close(num, f64::from(gw[idx]), &format!("layer {l} dW{idx:?}"));
            checked += 1;
        }
        let mut p = mlp.layers().to_vec();
        p[l].bias[0] += eps;
        let mut m = mlp.layers().to_vec();
        m[l].bias[0] -= eps;
        let num = (loss_of(p) - loss_of(m)) / (2.0 * f64::from(eps));
        assert_close(num, f64::from(gb[0]), &format!("layer {l} db"));
    }
    assert_eq!(checked, 9);
}
