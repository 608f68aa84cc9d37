// Adds a resident through nginx (/api/ is the backend) and reloads the server-rendered page.
document.getElementById("add").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch("/api/residents", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: form.get("name"), pgy_level: Number(form.get("pgy_level")) }),
  });
  if (response.ok) location.reload();
  else alert(`could not add: ${response.status} ${await response.text()}`);
});
