// Masking/set with axios: node set_axios.mjs M1 M2
// No Content-Length header: axios computes it (the published sample sets it empty).
import axios from "axios";
const [m1, m2] = process.argv.slice(2);
const answer = await axios.post(`${process.env.CALLMASK_URL ?? "http://127.0.0.1:8080"}/api/v2/Masking/set`, {
  userId: process.env.CALLMASK_USER, token: process.env.CALLMASK_TOKEN, m1, m2, expiry_duration: 60,
}, { timeout: 10000 });
console.log(JSON.stringify(answer.data));
