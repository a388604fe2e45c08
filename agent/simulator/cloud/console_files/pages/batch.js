// Batch: groups, their jobs with status and summary, and one job's tasks with each call's answer.

import { api } from "../api.js";
import { clock, errorText, h, notice, replace, table } from "../dom.js";

async function allPages(path, query = {}) {
  const items = [];
  let key = null;
  do {
    const page = await api.get(path, { ...query, limit: 100, last_evaluated_key: key });
    items.push(...page.data);
    key = page.nextKey;
  } while (key && items.length < 2000);
  return items;
}

/** Batch times are UNIX seconds (the rest of the API counts milliseconds). */
function seconds(time) {
  return typeof time === "number" ? time * 1000 : time;
}

function summaryText(summary) {
  return summary ? Object.entries(summary).map(([k, v]) => `${v} ${k}`).join(", ") : "";
}

export async function render(root) {
  const message = h("p", { hidden: true });
  const tasksBox = h("div", { id: "batch-tasks" });
  const groups = await allPages("/batch_groups");
  const sections = [];
  for (const group of groups) {
    const groupId = group.batchGroupId;
    const jobs = await allPages(`/batch_groups/${encodeURIComponent(groupId)}/jobs`);
    sections.push(h("section", { class: "panel" },
      h("h2", {}, group.batchGroupName || groupId, h("small", {}, ` ${groupId}`)),
      group.description ? h("p", { class: "muted" }, group.description) : null,
      table(["Job", "Status", "Tasks", "Created", "Finished", ""], jobs.map((job) => h("tr", {},
        h("td", {}, job.jobName || job.jobId),
        h("td", {}, h("span", { class: `badge job-${job.status}` }, job.status)),
        h("td", {}, summaryText(job.summary)),
        h("td", { class: "created" }, clock(seconds(job.createdTime))),
        h("td", {}, clock(seconds(job.finishedTime))),
        h("td", {}, h("button", { type: "button", "aria-label": `Tasks of ${job.jobName || job.jobId}`,
          onclick: () => showTasks(groupId, job) }, "Tasks")))),
      jobs.length ? `${jobs.length} jobs` : "No jobs")));
  }

  async function showTasks(groupId, job) {
    try {
      const tasks = await allPages(`/batch_groups/${encodeURIComponent(groupId)}/jobs/${encodeURIComponent(job.jobId)}/tasks`);
      replace(tasksBox, h("h2", {}, "Tasks of ", job.jobName || job.jobId),
        table(["Task", "Status", "Request", "Answer"], tasks.map((task) => {
          const request = task.request || {};
          const answer = task.response || task.result || {};
          return h("tr", {},
            h("td", {}, task.taskId ?? ""),
            h("td", {}, h("span", { class: `badge job-${task.status}` }, task.status)),
            h("td", {}, h("code", {}, `${request.method || ""} ${request.path || ""}`)),
            h("td", {}, h("code", { class: "content" }, JSON.stringify(answer))));
        }), `${tasks.length} tasks`));
      tasksBox.scrollIntoView({ block: "nearest" });
    } catch (error) {
      notice(message, errorText(error), "error");
    }
  }

  replace(root,
    h("div", { class: "page-head" }, h("h1", {}, "Batch"),
      h("p", { class: "muted" }, "Jobs run Inventory operations over a group of devices; each task keeps its answer.")),
    message,
    groups.length ? sections : h("p", {}, "No batch groups yet (POST /v1/batch_groups creates one)."),
    tasksBox);
  return null;
}
