use super::*;
use crate::{cosine, dot, EmbedRole};

fn v(text: &str) -> Vec<f32> {
    BuiltinEmbedder::new().embed_text(text)
}

fn sim(a: &str, b: &str) -> f32 {
    cosine(&v(a), &v(b))
}

#[test]
fn k8s_and_its_chinese_name_land_near_kubernetes() {
    let k8s = sim("k8s", "Kubernetes");
    assert!(k8s > 0.85, "{k8s}");
    let zh = sim("容器编排", "Kubernetes");
    assert!(zh > 0.7, "{zh}");
    // Far from an unrelated skill.
    let other = sim("k8s", "Photoshop");
    assert!(other < 0.2, "{other}");
    assert!(sim("熟悉k8s运维", "熟悉Kubernetes运维") > sim("熟悉k8s运维", "熟悉Excel运维"));
}

#[test]
fn a_chinese_job_is_near_its_chinese_resume() {
    let job = "招聘高级后端开发工程师：熟悉Golang、微服务和容器编排，有高并发系统经验";
    let resume = "五年后端开发经验，使用Go语言编写微服务，熟悉K8s，负责高并发系统设计";
    let unrelated = "资深产品经理，负责需求分析、原型设计与用户研究，熟悉Axure";
    let near = sim(job, resume);
    let far = sim(job, unrelated);
    assert!(near > 0.6, "{near}");
    assert!(near > far + 0.5, "near {near}, far {far}");
}

#[test]
fn full_width_traditional_and_case_forms_give_the_same_vector() {
    assert_eq!(v("Ｋ８Ｓ 後端開發工程師"), v("k8s 后端开发工程师"));
    assert_eq!(v("ＲＵＳＴ　Ｃ＋＋"), v("rust c++"));
    assert_eq!(v("資料分析"), v("资料分析"));
}

#[tokio::test]
async fn output_is_deterministic_unit_length_and_in_order() {
    let e = BuiltinEmbedder::new();
    let texts: Vec<String> = ["Rust 工程师", "数据分析 SQL Tableau", "k8s"]
        .map(String::from)
        .to_vec();
    let first = e.embed(EmbedRole::Passage, &texts).await.unwrap();
    let again = e.embed(EmbedRole::Query, &texts).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first.len(), 3);
    for (vector, text) in first.iter().zip(&texts) {
        assert_eq!(vector.len(), e.dimensions());
        assert!((dot(vector, vector) - 1.0).abs() < 1e-5);
        assert_eq!(*vector, e.embed_text(text));
    }
    // Pinned: the hash, features and weights must not drift without a new BUILTIN_NAME
    // (stored vectors would silently stop matching fresh ones). `k8s` is the word `k8s`
    // (weight 1) and the skill `kubernetes` (weight 3), over a norm of sqrt(10).
    let k: Vec<(usize, f32)> = e
        .embed_text("k8s")
        .into_iter()
        .enumerate()
        .filter(|(_, x)| *x != 0.0)
        .collect();
    let third = 1.0 / 10f32.sqrt();
    assert_eq!(k, [(33, -third), (255, -3.0 * third)]);
    assert!(e.embed(EmbedRole::Query, &[]).await.unwrap().is_empty());
    assert_eq!(e.name(), BUILTIN_NAME);
}

#[test]
fn text_without_features_is_the_zero_vector() {
    for t in ["", "  ", "，。!?"] {
        assert!(v(t).iter().all(|x| *x == 0.0), "{t:?}");
    }
}

#[test]
fn pieces_keep_repeats_and_programming_names() {
    let got: Vec<String> = pieces("c++ 和 node.js. 工程 工程")
        .into_iter()
        .map(|p| match p {
            Piece::Word(w) => w,
            Piece::Han(r) => r.into_iter().collect(),
        })
        .collect();
    assert_eq!(got, ["c++", "和", "node.js", "工程", "工程"]);
}
