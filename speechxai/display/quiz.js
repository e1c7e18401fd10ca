// The quiz of speechxai.display.Quiz.page, scored in the browser: informedness TP/P - FP/N
// and markedness TP/(TP+FP) - FN/(TN+FN) per class, averaged over the classes where they are
// defined (Powers 2011; Becker et al. 2024, Sec. 3.4), per format - as
// speechxai.evaluation.study_scores computes them.
function speechxaiQuiz(quizId) {
  const root = document.getElementById(quizId);
  const data = JSON.parse(root.querySelector("script.quiz-data").textContent);

  function answers() {
    return data.questions.map((question, i) => {
      const chosen = root.querySelector(`input[name="${quizId}-q${i + 1}"]:checked`);
      return chosen === null ? null : Number(chosen.value);
    });
  }

  function ratio(numerator, denominator) {
    return denominator > 0 ? numerator / denominator : NaN;
  }

  function macroMean(values) {
    const defined = values.filter((value) => !Number.isNaN(value));
    return defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : NaN;
  }

  function scores(truth, guess) {
    const informedness = [];
    const markedness = [];
    for (const label of data.labels) {
      let tp = 0, fp = 0, fn = 0, tn = 0;
      truth.forEach((t, i) => {
        const g = guess[i];
        if (t === label && g === label) tp += 1;
        else if (g === label) fp += 1;
        else if (t === label) fn += 1;
        else tn += 1;
      });
      informedness.push(ratio(tp, tp + fn) - ratio(fp, fp + tn));
      markedness.push(ratio(tp, tp + fp) - ratio(fn, tn + fn));
    }
    return [macroMean(informedness), macroMean(markedness)];
  }

  function shown(value) {
    return Number.isNaN(value) ? "-" : value.toFixed(2);
  }

  function score() {
    const given = answers();
    const rows = [];
    for (const format of data.formats) {
      const asked = data.questions
        .map((question, i) => [question, given[i]])
        .filter(([question, answer]) => question.format === format && answer !== null);
      if (!asked.length) continue;
      const [informedness, markedness] = scores(
        asked.map(([question]) => question.prediction), asked.map(([, answer]) => answer));
      rows.push(`<tr data-format="${format}"><th>${format}</th>` +
        `<td class="informedness">${shown(informedness)}</td>` +
        `<td class="markedness">${shown(markedness)}</td><td class="answers">${asked.length}` +
        `</td><td>${data.paper[format] || "-"}</td></tr>`);
    }
    const result = root.querySelector(".quiz-result");
    result.innerHTML = rows.length
      ? "<table><caption>Your score: 0 is guessing, 1 is perfect</caption><tr><th>format</th>" +
        "<th>informedness</th><th>markedness</th><th>answers</th>" +
        "<th>paper (informedness / markedness, misclassified digits)</th></tr>" +
        rows.join("") + "</table>"
      : "<p>No question has been answered yet.</p>";
  }

  function csvField(value) {
    const text = value === null ? "" : String(value);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function download() {
    const reader = root.querySelector(".quiz-reader").value;
    const given = answers();
    const lines = [["reader", "question", "item", "format", "prediction", "answer"].join(",")];
    data.questions.forEach((question, i) => {
      lines.push([reader, i + 1, question.item, question.format, question.prediction, given[i]]
        .map(csvField).join(","));
    });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], {type: "text/csv"}));
    link.download = "quiz-answers.csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  root.querySelector(".quiz-score").addEventListener("click", score);
  root.querySelector(".quiz-csv").addEventListener("click", download);
}
