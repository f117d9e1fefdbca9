//! Table-driven test of the legal filter's query check.
//!
//! Each row: (query, expected_blocked, note). For borderline words the note
//! records the decision and its reason. On failure every mismatching row is
//! printed.

use picseek::legal::{check_query, mentions_child, Rule, Verdict, REASON};

const B: bool = true; // blocked
const A: bool = false; // allowed

#[rustfmt::skip]
const TABLE: &[(&str, bool, &str)] = &[
    // ---- English: the seed's stop words and their forms
    ("boy", B, "seed word"),
    ("a boy on a bike", B, "seed word in a sentence"),
    ("Boys playing football", B, "plural, capitalised"),
    ("the boy's kite", B, "possessive"),
    ("the boys' kites", B, "plural possessive"),
    ("girl", B, "seed word"),
    ("two girls dancing", B, "plural"),
    ("a girl's red dress", B, "possessive"),
    ("kid on a swing", B, "seed word"),
    ("kids' party", B, "plural possessive"),
    ("KIDS PLAYING", B, "upper case"),
    ("a child with a balloon", B, "seed word"),
    ("children in a park", B, "irregular plural"),
    ("the children's museum", B, "plural possessive"),
    ("childrens books", B, "possessive written without apostrophe"),
    ("baby in a stroller", B, "seed word"),
    ("babies sleeping", B, "plural"),
    ("a baby's hand", B, "possessive"),
    ("teen skateboarder", B, "seed word"),
    ("teenager with a phone", B, "seed word"),
    ("teenagers at a concert", B, "plural"),
    ("teens hanging out", B, "plural"),
    // ---- English: other words for children
    ("toddler", B, "child word"),
    ("toddlers in a sandbox", B, "plural"),
    ("an infant sleeping", B, "child word"),
    ("newborn photoshoot", B, "child word"),
    ("hey kiddo", B, "diminutive"),
    ("schoolboy in uniform", B, "compound child word"),
    ("schoolgirl", B, "compound child word"),
    ("schoolchildren on a trip", B, "compound child word"),
    ("preteen fashion", B, "pre-teen"),
    ("tween birthday party", B, "tween = 10-12"),
    ("youngster fishing", B, "child word"),
    ("juvenile offender", B, "juvenile = minor"),
    ("adolescent in a hoodie", B, "adolescence covers 10-19"),
    ("underage drinking", B, "underage = minor"),
    ("photos of minors", B, "minors is always a noun"),
    ("a minor", B, "minor as a noun at the end"),
    ("minor", B, "decision: bare 'minor' blocks; the noun reading is the risky one"),
    ("a minor in a car", B, "minor followed by a preposition is a noun"),
    ("a minor playing alone", B, "minor followed by an -ing verb is a noun"),
    ("a minor's bedroom", B, "possessive noun"),
    ("kindergarten class", B, "kindergarten pupils are 3-6"),
    ("preschooler painting", B, "child word"),
    ("daycare center", B, "decision: block; daycare photos show small children"),
    ("babysitter with twins", B, "decision: block; babysitting implies a child"),
    ("childhood memories", B, "decision: block; childhood photos depict children"),
    ("boyhood home", B, "decision: block, like childhood"),
    ("grandchildren visiting", B, "decision: block; contains the child word, in doubt block"),
    ("tomboy in overalls", B, "decision: block; tomboy usually means a girl"),
    ("paperboy delivering papers", B, "decision: block; paperboys are children"),
    ("orphans in africa", B, "decision: block; orphans are children"),
    ("cherub statue", B, "decision: block; a cherub is depicted as a small child"),
    ("youth", B, "decision: block; youth denotes adolescents, incl. under 16"),
    ("a youth playing hockey", B, "decision: block (see 'youth')"),
    ("youths in a room", B, "plural"),
    ("teenage boy", B, "teenage (13-19) includes under 16; boy too"),
    ("teenage fashion", B, "decision: block teenage; 13-15 are teenagers"),
    ("little one asleep", B, "phrase for a small child"),
    ("elementary school playground", B, "phrase: elementary schoolers are children"),
    ("middle school dance", B, "phrase: middle schoolers are 11-14"),
    ("little league game", B, "phrase: youth baseball"),
    ("cub scouts camping", B, "phrase: cub scouts are 7-10"),
    ("tots on a slide", B, "tot = small child"),
    ("teenybopper", B, "child word"),
    ("jailbait", B, "sexualised slang for minors"),
    ("loli", B, "sexualised slang for minors"),
    ("baby shower decorations", B, "decision: block; child-themed, in doubt block"),
    ("kiddie pool", B, "decision: block; a kiddie pool query retrieves children in pools"),
    ("boy band on stage", B, "decision: block; boy is a seed word, no exception"),
    ("big girl bed", B, "girl"),
    ("girl scouts selling cookies", B, "girl"),
    ("Spice Girls concert", B, "decision: block; names are not exempted, 'girls' is a seed word"),
    // ---- English: ages
    ("7-year-old", B, "age phrase"),
    ("7 year old", B, "age phrase without hyphens"),
    ("seven-year-old", B, "number word"),
    ("a 7 years old", B, "plural years"),
    ("12-year-olds", B, "plural noun"),
    ("thirteen year old", B, "number word"),
    ("15-year-old", B, "15 is under 16"),
    ("0 year old", B, "0 is under 16"),
    ("aged 12", B, "aged N"),
    ("aged 3-5 group", B, "range starting under 16"),
    ("age 5", B, "age N"),
    ("at the age of 9", B, "age of N"),
    ("under 16", B, "under N"),
    ("under-16s team", B, "under-N plural"),
    ("under 18", B, "decision: under 18 includes children under 16"),
    ("7yo", B, "abbreviation"),
    ("5 y.o.", B, "abbreviation with dots"),
    ("10 yr old", B, "yr"),
    ("3 years of age", B, "years of age"),
    ("18-month-old", B, "age in months"),
    ("6 months old", B, "age in months"),
    ("3 week old", B, "age in weeks"),
    ("2 day old", B, "age in days"),
    ("two and a half year old", B, "fractional age"),
    ("2.5 year old", B, "decimal age"),
    ("5th grade class", B, "grade 5 is about 10 years old"),
    ("grade 5 students", B, "grade N"),
    ("grade 8 bolts", A, "a bolt grade, not a school grade"),
    ("fifth grader", B, "ordinal word grade"),
    ("first birthday cake", B, "first birthday: a baby"),
    ("u12 football", B, "U12 sports age group"),
    ("younger than 14", B, "younger than N"),
    ("16 year old", A, "16 is not under 16"),
    ("16-year-old", A, "16 is not under 16"),
    ("30-year-old man", A, "adult age"),
    ("aged 16", A, "16 and over allowed"),
    ("a 45 year old woman", A, "adult age"),
    ("twenty-one-year-old", A, "composite number 21"),
    ("16.5 year old", A, "decimal over 16"),
    ("aged 30-40", A, "adult range"),
    ("7-year-old dog", A, "age of an animal"),
    ("a 10-year-old car", A, "age of an object"),
    ("12 year old whisky", A, "age of a drink"),
    ("6-month-old puppy", A, "age of an animal"),
    ("under 10 minutes", A, "under N with a unit"),
    ("gifts under $10", A, "under N with a currency"),
    ("Ice Age 2", A, "film title, not an age"),
    ("U2 concert", A, "band, not an age group"),
    ("7 wonders of the world", A, "a number alone is not an age"),
    ("top 10 beaches", A, "a number alone is not an age"),
    ("20th birthday party", A, "adult birthday"),
    ("11th grade chemistry", A, "grade 11 is 16-17"),
    ("sonata in A minor", A, "musical key"),
    ("E minor chord", A, "musical key"),
    ("a minor injury", A, "minor as an adjective"),
    ("minor league baseball", A, "decision: allow; minor as an adjective (lower league)"),
    ("minor details", A, "adjective"),
    // ---- English: disguises
    ("g i r l", B, "spaced letters"),
    ("G I R L S", B, "spaced capitals"),
    ("a b o y", B, "spaced letters after an article"),
    ("k.i.d.s", B, "dotted letters"),
    ("b-o-y", B, "hyphenated letters"),
    ("c_h_i_l_d", B, "underscored letters"),
    ("k*i*d", B, "starred letters"),
    ("g. i. r. l.", B, "dotted and spaced letters"),
    ("k1ds", B, "digit for a letter"),
    ("b0y", B, "digit for a letter"),
    ("g1rl", B, "digit for a letter"),
    ("t33n", B, "digits for letters"),
    ("chi1d", B, "1 for l"),
    ("b4by", B, "4 for a"),
    ("b@by", B, "@ for a"),
    ("k!ds", B, "! for i"),
    ("k 1 d s", B, "spaced leetspeak"),
    ("b\u{043E}y", B, "Cyrillic о in boy"),
    ("\u{0432}\u{043E}\u{0443} on a swing", B, "boy written entirely in Cyrillic look-alikes"),
    ("the \u{0432}\u{043E}\u{0443}", B, "Cyrillic look-alike word in an English query"),
    ("\u{0412}\u{041E}\u{0423}", B, "a lone word of Cyrillic look-alikes is also read as Latin"),
    ("gir\u{04CF}", B, "Cyrillic palochka looks like l"),
    ("g\u{200B}i\u{200B}r\u{200B}l", B, "zero-width spaces"),
    ("k\u{00AD}i\u{00AD}d", B, "soft hyphens"),
    ("ｋｉｄｓ", B, "full-width letters"),
    ("𝐛𝐨𝐲", B, "mathematical bold letters"),
    ("ʙᴀʙʏ", B, "small capitals"),
    ("gIrL", B, "mixed case"),
    ("giiirl", B, "repeated letters"),
    ("teeeeen", B, "repeated letters"),
    ("school-girl", B, "hyphenated compound"),
    ("pre-teen", B, "hyphenated compound"),
    ("KidsParty", B, "camelCase compound"),
    ("#kids", B, "hashtag"),
    ("3kids", B, "digit glued to a word"),
    ("b\u{0000}o\u{0007}y", B, "control characters inside a word"),
    ("b\u{0301}o\u{0308}y", B, "combining diacritics"),
    // ---- English: innocent words that must pass
    ("kidney", A, "innocent: contains kid"),
    ("kidney beans", A, "innocent"),
    ("no kidding", A, "innocent: contains kid"),
    ("kidnap thriller poster", A, "decision: allow; the crime, not a description of a child"),
    ("Babylon ruins", A, "innocent: contains bab"),
    ("boycott sign", A, "innocent: contains boy"),
    ("cowboy on a horse", A, "innocent: adult rider"),
    ("cowboys at a rodeo", A, "innocent"),
    ("minority rights march", A, "innocent: contains minor"),
    ("boyfriend and girlfriend", A, "decision: allow; romantic partners are overwhelmingly adults"),
    ("my girlfriend at the beach", A, "decision: allow (see boyfriend)"),
    ("skid marks", A, "innocent: contains kid"),
    ("steel girder", A, "innocent: contains gir"),
    ("teeny tiny house", A, "decision: allow; teeny means tiny"),
    ("Tom Kidd", A, "surname Kidd is not kid"),
    ("baby blue sky", A, "decision: allow; a colour"),
    ("baby carrots", A, "decision: allow; a vegetable"),
    ("baby elephant", A, "decision: allow; a young animal, not a child"),
    ("kid gloves", A, "decision: allow; leather gloves"),
    ("babe", A, "decision: allow; term of endearment for adults"),
    ("young man", A, "decision: allow; an adult"),
    ("young woman in a cafe", A, "decision: allow; an adult"),
    ("young people dancing", A, "decision: allow; 'young' alone says nothing about age"),
    ("showgirl on stage", A, "decision: allow; an adult performer"),
    ("cowgirl", A, "decision: allow; adult rider"),
    ("childish behaviour", A, "decision: allow; describes behaviour, often adults"),
    ("childless couple", A, "decision: allow; describes adults"),
    ("boyish haircut", A, "decision: allow; a style"),
    ("girly outfit", A, "decision: allow; a style"),
    ("tater tots", A, "decision: allow; food"),
    ("baby's breath bouquet", A, "decision: allow; a flower"),
    ("tot", B, "tot = small child"),
    ("high school reunion", A, "decision: allow; high school is mostly 14-18 and the phrase names adult contexts"),
    ("college students", A, "decision: allow; students are mostly adults"),
    ("pupil of the eye", A, "decision: allow; pupil is ambiguous (eye)"),
    ("father and son", A, "decision: allow; kinship words say nothing about age"),
    ("mother and daughter", A, "decision: allow (see son)"),
    ("a man in a red hat", A, "plain"),
    ("a dog running", A, "plain"),
    ("sunset over the sea", A, "plain"),
    ("a b c", A, "spaced letters that spell nothing"),
    ("a big irl meetup", A, "must not glue words into 'girl'"),
    ("the bo y", A, "must not glue 'bo' and 'y'"),
    ("k i d n e y", A, "spaced innocent word"),
    ("boy-friend", A, "hyphenated innocent compound"),
    ("CowBoy hat", A, "camelCase innocent compound"),
    ("canteen", A, "innocent: contains teen"),
    ("between the trees", A, "innocent: contains tween"),
    ("oh boy", A, "decision: allow; interjection"),
    ("tot\u{0435}m pole", A, "Cyrillic е in totem: not a child word"),
    ("toddle", A, "not in the lexicon"),
    ("I kid you not", B, "known false positive: verb 'kid' is blocked (in doubt, block)"),
    ("", A, "empty query"),
    ("   ", A, "blank query"),
    ("!!!???", A, "punctuation only"),
    // ---- Russian: words and forms
    ("ребёнок", B, "child"),
    ("ребенок", B, "child, е for ё"),
    ("ребенка на руках", B, "genitive"),
    ("с ребенком", B, "instrumental"),
    ("дети в парке", B, "children"),
    ("много детей", B, "genitive plural"),
    ("с детьми", B, "instrumental plural"),
    ("детский сад", B, "adjective 'children's'"),
    ("детская площадка", B, "adjective, feminine"),
    ("детское питание", B, "adjective, neuter"),
    ("мальчик", B, "boy"),
    ("два мальчика", B, "genitive"),
    ("мальчики играют", B, "plural"),
    ("мальчишки", B, "diminutive plural"),
    ("девочка", B, "girl"),
    ("девочки на пляже", B, "plural"),
    ("с девочкой", B, "instrumental"),
    ("девчонки", B, "colloquial"),
    ("малыш", B, "toddler"),
    ("малыши", B, "plural"),
    ("малышка", B, "diminutive"),
    ("младенец", B, "infant"),
    ("младенцы", B, "plural"),
    ("подросток", B, "teenager"),
    ("подростки", B, "plural"),
    ("школьник", B, "schoolboy"),
    ("школьница", B, "schoolgirl"),
    ("школьники", B, "plural"),
    ("дошкольники", B, "preschoolers"),
    ("новорождённый", B, "newborn"),
    ("несовершеннолетний", B, "minor"),
    ("детство", B, "childhood, like English"),
    ("пацаны во дворе", B, "decision: block; пацан means boy"),
    ("юноша", B, "decision: block, like 'youth'"),
    // ---- Russian: ages
    ("12 лет", B, "age phrase"),
    ("ему 5 лет", B, "age phrase"),
    ("5 летний", B, "N-letniy"),
    ("5-летний мальчик", B, "N-letniy with a child word"),
    ("пятилетний", B, "word-number age adjective"),
    ("годовалый", B, "one-year-old"),
    ("3 годика", B, "diminutive years: a small child"),
    ("до 16 лет", B, "under 16"),
    ("младше 14", B, "younger than 14"),
    ("в возрасте 7", B, "at the age of 7"),
    ("6 месяцев", B, "age in months"),
    ("5 класс", B, "grade 5"),
    ("16 лет", A, "16 is not under 16"),
    ("30 лет", A, "adult"),
    ("5 лет назад", A, "duration, not an age"),
    ("через 10 лет", A, "duration, not an age"),
    ("пятилетний план", A, "five-year plan"),
    ("10-летний юбилей", A, "anniversary"),
    // ---- Russian: disguises
    ("д\u{0065}ти", B, "Latin e in дети"),
    ("р\u{0065}б\u{0065}нок", B, "Latin e letters in ребенок"),
    ("м а л ь ч и к", B, "spaced letters"),
    ("д.е.т.и", B, "dotted letters"),
    ("ДЕТИ", B, "upper case"),
    ("ре6енок", B, "6 for б"),
    ("девочкa", B, "Latin a at the end"),
    ("deti", B, "Russian in Latin letters"),
    ("malchik", B, "Russian in Latin letters"),
    // ---- Russian: innocent words
    ("детектив", A, "innocent: starts with дет"),
    ("детали машины", A, "innocent: starts with дет"),
    ("девушка в кафе", A, "decision: allow; девушка is a young woman"),
    ("парень с собакой", A, "decision: allow; парень is a young man"),
    ("ребята на концерте", A, "decision: allow; ребята commonly means 'guys'"),
    ("тот самый дом", A, "тот could fold to 'tot'; pure Cyrillic words in a Russian query are not folded"),
    ("тот", A, "тот alone: folds to 'tot', but the allow list has тот"),
    ("малина", A, "innocent: starts with мал"),
    ("школа искусств", A, "decision: allow; school alone says nothing about age"),
    ("студенты", A, "students"),
    ("мужчина и женщина", A, "plain"),
    ("крохи хлеба", A, "decision: allow; крохи also means crumbs"),
    ("сын и отец", A, "decision: allow; kinship words say nothing about age"),
    ("чад", A, "fumes, not чадо"),
    ("юбилей", A, "plain"),
];

#[test]
fn table_has_enough_rows() {
    assert!(TABLE.len() >= 200, "only {} rows", TABLE.len());
    let blocked = TABLE.iter().filter(|r| r.1).count();
    let allowed = TABLE.len() - blocked;
    assert!(
        blocked >= 80 && allowed >= 80,
        "{blocked} blocked, {allowed} allowed"
    );
}

#[test]
fn table() {
    let mut failures = Vec::new();
    for &(query, expected, note) in TABLE {
        let verdict = check_query(query);
        if verdict.is_blocked() != expected {
            failures.push(format!(
                "  {:?}: expected {}, got {:?}  [{}]",
                query,
                if expected { "BLOCKED" } else { "ALLOWED" },
                verdict,
                note
            ));
        }
        assert_eq!(mentions_child(query), verdict.is_blocked(), "{query:?}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows mismatch:\n{}",
        failures.len(),
        TABLE.len(),
        failures.join("\n")
    );
}

/// One row of `tests/fixtures/legal_queries.tsv`.
struct Case {
    line: usize,
    query: String,
    block: bool,
    kind: String,
    note: String,
}

/// The second table: disguised and foreign-language child queries, and
/// innocent queries with look-alike words (`kidney`, `child process`).
fn world_cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/legal_queries.tsv"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines().enumerate();
    assert_eq!(
        lines.next().map(|(_, l)| l),
        Some("query\texpect\tkind\tnote"),
        "{path}: header"
    );
    lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "{path}:{}: four tab-separated fields", i + 1);
            let block = match f[1] {
                "block" => true,
                "allow" => false,
                other => panic!("{path}:{}: expect is {other:?}", i + 1),
            };
            let kind = f[2].to_string();
            assert!(
                matches!(
                    (kind.as_str(), block),
                    ("disguised" | "foreign", true) | ("innocent", false)
                ),
                "{path}:{}: kind {kind:?} with expect {}",
                i + 1,
                f[1]
            );
            Case {
                line: i + 1,
                query: f[0].to_string(),
                block,
                kind,
                note: f[3].to_string(),
            }
        })
        .collect()
}

#[test]
fn world_table_is_big_enough_and_has_no_repeats() {
    let cases = world_cases();
    let count = |k: &str| cases.iter().filter(|c| c.kind == k).count();
    assert!(
        cases.len() + TABLE.len() >= 400,
        "{} rows in all",
        cases.len() + TABLE.len()
    );
    assert!(
        count("disguised") + count("foreign") >= 150,
        "{} disguised and {} foreign",
        count("disguised"),
        count("foreign")
    );
    assert!(count("innocent") >= 200, "{} innocent", count("innocent"));
    let mut seen = std::collections::HashSet::new();
    for c in &cases {
        assert!(
            seen.insert(c.query.to_lowercase()),
            "line {}: {:?} twice",
            c.line,
            c.query
        );
    }
}

#[test]
fn world_table() {
    let cases = world_cases();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let verdict = check_query(&c.query);
            (verdict.is_blocked() != c.block).then(|| {
                format!(
                    "  line {}: {:?} ({}): expected {}, got {}  [{}]",
                    c.line,
                    c.query,
                    c.kind,
                    if c.block { "BLOCKED" } else { "ALLOWED" },
                    verdict,
                    c.note
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows mismatch:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn blocked(query: &str) -> (String, Rule) {
    match check_query(query) {
        Verdict::Blocked { term, rule } => (term, rule),
        Verdict::Allowed => panic!("{query:?} should be blocked"),
    }
}

#[test]
fn terms_and_rules_are_sensible() {
    assert_eq!(blocked("two Kids"), ("kids".into(), Rule::Word));
    assert_eq!(blocked("g i r l"), ("girl".into(), Rule::Disguised));
    assert_eq!(blocked("k1ds"), ("kids".into(), Rule::Disguised));
    assert_eq!(blocked("b\u{043E}y"), ("boy".into(), Rule::Disguised));
    assert_eq!(blocked("a 7-year-old"), ("7 year old".into(), Rule::Age));
    assert_eq!(blocked("little ones"), ("little ones".into(), Rule::Phrase));
    assert_eq!(blocked("a minor"), ("minor".into(), Rule::MinorNoun));
    assert_eq!(blocked("с детьми"), ("детьми".into(), Rule::Word));
    assert_eq!(blocked("д\u{0065}ти"), ("дети".into(), Rule::Disguised));
    assert_eq!(
        blocked("a school-girl"),
        ("schoolgirl".into(), Rule::Disguised)
    );
    assert_eq!(blocked("the boy's kite").0, "boy");
    assert_eq!(blocked("todler"), ("toddler".into(), Rule::Disguised));
    assert_eq!(blocked("kidz"), ("kids".into(), Rule::Disguised));
    assert_eq!(blocked("chiId"), ("child".into(), Rule::Disguised));
    assert_eq!(blocked("Kinderzimmer"), ("kinder".into(), Rule::Word));
    assert_eq!(blocked("niña"), ("niña".into(), Rule::Word));
    assert_eq!(check_query("Nina Simone"), Verdict::Allowed);
}

#[test]
fn reason_is_user_facing() {
    assert!(REASON.contains("under 16"));
    assert!(REASON.contains("parent"));
    let v = check_query("kids");
    assert_eq!(v.reason(), Some(REASON));
    assert_eq!(check_query("a red car").reason(), None);
    assert!(v.to_string().contains("kids"));
}

#[test]
fn no_panic_on_odd_input() {
    let huge_word = "a".repeat(1 << 20);
    let huge_spaced = "a ".repeat(1 << 19);
    let huge_mixed = "boy kidney 7-year-old g i r l ".repeat(1 << 15);
    let spaced_kid = format!("{}k i d s", "x ".repeat(1 << 18));
    let controls: String = (0u32..0x20).filter_map(char::from_u32).collect();
    let weird: String = [
        '\u{FFFD}',
        '\u{10FFFF}',
        '\u{E000}',
        '\u{202E}',
        '\u{0301}',
        '\u{0300}',
        '\u{FE0F}',
        '\u{1F1E6}',
        '\u{2028}',
        '\u{2029}',
        'İ',
        'ß',
        'ǅ',
    ]
    .iter()
    .collect();
    let dashes = "-".repeat(1 << 20);
    let digits = "9".repeat(1 << 20);
    let hyphen_word = "k-".repeat(1 << 19);
    for q in [
        huge_word.as_str(),
        huge_spaced.as_str(),
        controls.as_str(),
        weird.as_str(),
        dashes.as_str(),
        digits.as_str(),
        hyphen_word.as_str(),
    ] {
        let _ = check_query(q);
    }
    assert!(check_query(&huge_mixed).is_blocked());
    assert!(check_query(&spaced_kid).is_blocked());
    assert!(!check_query(&huge_word).is_blocked());
}
