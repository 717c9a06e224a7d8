// Masking/set with fetch (Node 18+ or a browser): node set_fetch.mjs M1 M2
// fetch sets Content-Length itself; a header given by hand (empty in the published sample)
// makes Node refuse the request before it is sent.
const [m1, m2] = process.argv.slice(2);
const answer = await fetch(`${process.env.CALLMASK_URL ?? "http://127.0.0.1:8080"}/api/v2/Masking/set`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({
    userId: process.env.CALLMASK_USER, token: process.env.CALLMASK_TOKEN, m1, m2, expiry_duration: 60,
  }),
});
console.log(await answer.text());
