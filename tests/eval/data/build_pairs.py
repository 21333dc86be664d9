#!/usr/bin/env python3
"""Builds pairs.jsonl from the hand-written role tables (roles_tech.py, roles_biz.py,
roles_field.py): one (job, resume) pair per role and level, the job and the resume each in
Chinese or English. Deterministic (seeded); rerun with `python3 tests/eval/data/build_pairs.py`.

Near misses are built in: roles that share a title on another stack (Go / Java / Python backend,
React / Vue / Angular frontend, ICU / paediatric nurse...) and the same role at other levels
(intern, campus hire, experienced, senior) are all in the corpus as distractors.
"""
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import roles_biz  # noqa: E402
import roles_field  # noqa: E402
import roles_tech  # noqa: E402

# Extra levels for some roles (kept here so the role tables stay as written).
LEVELS = {"mfg-cnc": "icms", "teach-math": "icms", "teach-english": "icms", "health-peds-nurse": "icms",
          "admin": "icms", "translator": "icms", "mfg-electrician": "cms", "log-dispatch": "cms",
          "health-pharmacist": "cms", "cs-callcenter": "icms", "marketing-digital": "icms",
          "pm-consumer": "icms", "design-graphic": "icms", "sales-medical": "cms", "backend-python": "icms"}
LEVEL_NAME = {"i": "intern", "c": "campus", "m": "mid", "s": "senior"}
CITIES = [("北京", "Beijing"), ("上海", "Shanghai"), ("深圳", "Shenzhen"), ("杭州", "Hangzhou"),
          ("广州", "Guangzhou"), ("成都", "Chengdu"), ("南京", "Nanjing"), ("武汉", "Wuhan"),
          ("苏州", "Suzhou"), ("西安", "Xi'an"), ("新加坡", "Singapore"), ("香港", "Hong Kong")]
NAMES = [("星河", "Northwind"), ("云帆", "Bluefin"), ("蓝鲸", "Harbor"), ("禾木", "Maple"), ("远景", "Redwood"),
         ("澄海", "Brightpath"), ("青橙", "Silverline"), ("北辰", "Kestrel"), ("锦程", "Atlas"), ("万象", "Lumen"),
         ("启明", "Granite"), ("东岳", "Cedar"), ("海川", "Summit"), ("鸿途", "Riverside"), ("知行", "Oakridge")]
ORG = {"health-pharmacist": ("大药房", "Pharmacy"), "health-dental": ("口腔门诊", "Dental Clinic"),
       "teach-kinder": ("幼儿园", "Kindergarten"), "teach-univ": ("大学", "University"),
       "teach-english": ("英语培训中心", "English Centre"), "teach-physics": ("中学", "High School"),
       "teach-math": ("小学", "Primary School"), "chef": ("酒楼", "Restaurant"), "sales-auto": ("汽车4S店", "Motors"),
       "fin-auditor": ("会计师事务所", "& Partners CPA"), "cs-callcenter": ("银行", "Bank"),
       "driver": ("商务服务公司", "Executive Services")}
ORG_BY_PREFIX = {"health": ("医院", "Hospital"), "mfg": ("精密制造有限公司", "Manufacturing"),
                 "log": ("物流有限公司", "Logistics")}
SCHOOLS = [("浙江工业大学", "Zhejiang University of Technology"), ("华中科技大学", "Huazhong University of Science and Technology"),
           ("南京邮电大学", "Nanjing University of Posts and Telecommunications"), ("西南交通大学", "Southwest Jiaotong University"),
           ("山东大学", "Shandong University"), ("深圳大学", "Shenzhen University"), ("郑州大学", "Zhengzhou University"),
           ("曼彻斯特大学", "University of Manchester"), ("莫纳什大学", "Monash University")]
VOC_SCHOOLS = [("深圳职业技术学院", "Shenzhen Polytechnic"), ("无锡职业技术学院", "Wuxi Institute of Technology"),
               ("顺德职业技术学院", "Shunde Polytechnic")]
VOCATIONAL = {"mfg-cnc", "mfg-electrician", "log-courier", "driver", "chef", "cs-callcenter", "cs-ecommerce", "teach-kinder"}
GENERIC_ZH = ["责任心强，具备良好的沟通能力与团队合作精神。", "学习能力强，能承受一定的工作压力。", "做事踏实细致，执行力强。",
              "有同行业经验者优先，待遇面议。"]
GENERIC_EN = ["Clear communicator and a good team player.", "Quick learner who stays calm under pressure.",
              "Careful, reliable and good at following through.", "Experience in a similar business is a plus."]
# Resume language → job language, cycled over the pairs: zh→zh, en→en, zh→en, en→zh, zh→zh.
CYCLE = [("zh", "zh"), ("en", "en"), ("zh", "en"), ("en", "zh"), ("zh", "zh")]


def skill(s, lang):
    zh, _, en = s.partition("|")
    return zh if lang == "zh" or not en else en


def title(t, lang, lv):
    if lang == "zh":
        if lv == "i":
            return t[:-3] + "实习生" if t.endswith("工程师") else t + "（实习）"
        if lv == "c":
            return t + "（2026届校招）"
        return "高级" + t if lv == "s" else t
    if lv == "i":
        return t.replace(" (", " Intern (", 1) if " (" in t else t + " Intern"
    if lv == "c":
        return "Graduate " + t
    return "Senior " + t if lv == "s" else t


def org(key, rnd, lang):
    zh, en = ORG.get(key) or ORG_BY_PREFIX.get(key.split("-")[0], ("科技有限公司", "Technologies"))
    n = rnd.choice(NAMES)
    return n[0] + zh if lang == "zh" else f"{n[1]} {en}"


def job_text(r, lv, lang, rnd, city):
    key, titles, shorts, majors, skills, dz, de, _, _, _ = r
    short, major = (shorts[0], majors[0]) if lang == "zh" else (shorts[1], majors[1])
    duties = list(dz if lang == "zh" else de)
    rnd.shuffle(duties)
    sk = [skill(s, lang) for s in skills]
    rnd.shuffle(sk)
    if lang == "zh":
        req = {"i": f"{major}等相关专业在读，每周可实习4天及以上，实习期不少于3个月；",
               "c": f"2026届本科及以上学历应届毕业生，{major}等相关专业，有相关实习经历者优先；",
               "m": f"3年以上{short}相关工作经验，{major}等相关专业；",
               "s": f"8年以上{short}相关经验，其中3年以上团队管理经验，能独立负责核心业务；"}[lv]
        body = "岗位职责：\n" + "；\n".join(f"{i + 1}. {d}" for i, d in enumerate(duties)) + "。"
        body += f"\n任职要求：\n1. {req}\n2. 熟悉{'、'.join(sk[:4])}；\n3. {rnd.choice(GENERIC_ZH)}"
    else:
        req = {"i": f"Currently studying {major} or a related subject, available 4+ days a week for at least 3 months.",
               "c": f"Graduating in 2026 with a bachelor's degree or above in {major} or a related field; internships a plus.",
               "m": f"3+ years of experience in {short}; degree in {major} or related.",
               "s": f"8+ years in {short}, including 3+ years leading a team; able to own critical areas end to end."}[lv]
        body = "About the role:\n" + "\n".join(f"- {d}." for d in duties)
        body += f"\nWhat we look for:\n- {req}\n- Hands-on with {', '.join(sk[:4])}.\n- {rnd.choice(GENERIC_EN)}"
    return {"lang": lang, "title": title(titles[0] if lang == "zh" else titles[1], lang, lv),
            "description": body, "skills": sk, "city": city[0] if lang == "zh" else city[1]}


def lower1(s):
    return s[0].lower() + s[1:]


def resume_text(r, lv, lang, rnd, city):
    key, titles, shorts, majors, skills, dz, de, az, ae, _ = r
    zh = lang == "zh"
    short, major = (shorts[0], majors[0]) if zh else (shorts[1], majors[1])
    school = rnd.choice(VOC_SCHOOLS if key in VOCATIONAL else SCHOOLS)[0 if zh else 1]
    degree = ("大专" if zh else "Diploma") if key in VOCATIONAL else ("本科" if zh else "BSc")
    sk = [skill(s, lang) for s in skills]
    rnd.shuffle(sk)
    sk = sk[:-1] if lv in "ic" and len(sk) > 4 else sk
    sk.append(rnd.choice(["Git", "Linux"]) if r in roles_tech.ROLES else
              rnd.choice(["英语CET-6", "Office办公软件", "普通话二级甲等"] if zh else ["Fluent English", "Mandarin", "MS Office"]))
    c1, c2, c3 = org(key, rnd, lang), org(key, rnd, lang), org(key, rnd, lang)
    ach, dut = (list(az), list(dz)) if zh else (list(ae), list(de))
    rnd.shuffle(ach)
    loc = f"期望工作地点：{city[0]}。" if zh else f" Looking for roles in {city[1]}."
    ttl = titles[0] if zh else titles[1]
    if lv == "i":
        summary = (f"{school}{major}专业大三在读，对{short}很感兴趣，希望找一份{short}实习，每周可实习4天。" if zh else
                   f"Third-year {major} student at {school}, keen on {short} and looking for an internship, 4 days a week.") + loc
        exp = [f"{school} {major} {degree} 2023.09-2027.06（在读）" if zh else f"{school}, {degree} {major}, 2023–2027 (expected)",
               f"2025.07-2025.09 {c1} 暑期实习：协助{dut[0].removeprefix('负责')}" if zh else
               f"Summer intern, {c1}, Jul–Sep 2025: helped {lower1(dut[0])}"]
    elif lv == "c":
        summary = (f"{school}{major}专业2026届应届毕业生，有两段{short}相关实习，希望通过校招加入。" if zh else
                   f"2026 {major} graduate from {school} with two internships in {short}, applying for graduate roles.") + loc
        exp = [f"{school} {major} {degree} 2022.09-2026.06" if zh else f"{school}, {degree} {major}, 2022–2026",
               f"2025.03-2025.08 {c1} 实习生：参与{ach[0]}" if zh else f"Intern, {c1}, Mar–Aug 2025: part of the team that {lower1(ach[0])}",
               f"2024.07-2024.09 {c2} 实习生：协助{dut[1].removeprefix('负责')}" if zh else f"Intern, {c2}, Jul–Sep 2024: helped {lower1(dut[1])}"]
    elif lv == "m":
        y = rnd.randint(3, 6)
        summary = (f"{y}年{short}工作经验，熟悉{sk[0]}、{sk[1]}，做事踏实，沟通顺畅。" if zh else
                   f"{short[0].upper() + short[1:]} professional with {y} years of experience, strong in {sk[0]} and {sk[1]}.") + loc
        exp = [f"{2026 - y + 2}.04-至今 {c1} {ttl}：{ach[0]}" if zh else f"{ttl}, {c1}, Apr {2026 - y + 2} – present: {ach[0]}",
               f"{2026 - y}.07-{2026 - y + 2}.03 {c2} {ttl}：{dut[0]}" if zh else f"{ttl}, {c2}, Jul {2026 - y} – Mar {2026 - y + 2}: {dut[0]}",
               f"{school} {major} {degree}" if zh else f"{degree} {major}, {school}"]
    else:
        y, n = rnd.randint(9, 14), rnd.randint(4, 12)
        summary = (f"{y}年{short}经验，近4年带领{n}人团队，擅长{sk[0]}与{sk[1]}，能从0到1搭建体系。" if zh else
                   f"{y} years in {short}, leading a team of {n} for the last 4 years; expert in {sk[0]} and {sk[1]}.") + loc
        exp = [f"2022.01-至今 {c1} 高级{ttl}/负责人：带领{n}人团队，{ach[0]}" if zh else
               f"Senior {ttl} / team lead, {c1}, Jan 2022 – present: led a team of {n}; {lower1(ach[0])}",
               f"{2026 - y + 3}.05-2021.12 {c2} {ttl}：{ach[1]}" if zh else f"{ttl}, {c2}, May {2026 - y + 3} – Dec 2021: {ach[1]}",
               f"{2026 - y}.07-{2026 - y + 3}.04 {c3}：{dut[0]}" if zh else f"{c3}, Jul {2026 - y} – Apr {2026 - y + 3}: {dut[0]}",
               f"{school} {major} {degree}" if zh else f"{degree} {major}, {school}"]
    return {"lang": lang, "summary": summary, "experience": exp, "skills": sk}


def main():
    rnd = random.Random(14)
    roles = roles_tech.ROLES + roles_biz.ROLES + roles_field.ROLES
    out, i = [], 0
    for r in roles:
        for lv in LEVELS.get(r[0], r[-1]):
            res_lang, job_lang = CYCLE[i % len(CYCLE)]
            city = rnd.choice(CITIES[:10] if job_lang == "zh" else CITIES)
            job = {"id": f"j{i + 1:03}", **job_text(r, lv, job_lang, rnd, city)}
            res = {"id": f"r{i + 1:03}", **resume_text(r, lv, res_lang, rnd, city)}
            out.append({"id": f"p{i + 1:03}", "role": r[0], "level": LEVEL_NAME[lv], "job": job, "resume": res})
            i += 1
    with open(os.path.join(HERE, "pairs.jsonl"), "w", encoding="utf-8") as f:
        for p in out:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    print(f"{len(out)} pairs")


if __name__ == "__main__":
    main()
