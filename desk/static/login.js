// The sign-in form: the page's one-time token goes in X-CSRF-Token (it matches a cookie).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const token = document.querySelector('meta[name="csrf"]').content;
  document.getElementById("business").textContent = document.title.split(" · ").pop();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const response = await fetch("/desk/api/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify({
        username: document.getElementById("username").value,
        password: document.getElementById("password").value,
      }),
    });
    if (response.ok) {
      location.assign("/desk");
      return;
    }
    const data = await response.json().catch(() => ({}));
    error.textContent = data.error || "Sign-in failed";
    if (response.status === 403) setTimeout(() => location.reload(), 1500);
  });
});
