<?php
// Masking/set with PHP's cURL extension: php set_curl.php M1 M2
// No "Content-Length:" header by hand: given empty (as published), libcurl sends no length
// at all and the server cannot tell where the body ends.
$url = (getenv('CALLMASK_URL') ?: 'http://127.0.0.1:8080') . '/api/v2/Masking/set';
$body = json_encode([
    'userId' => getenv('CALLMASK_USER'), 'token' => getenv('CALLMASK_TOKEN'),
    'm1' => $argv[1], 'm2' => $argv[2], 'expiry_duration' => 60,
]);
$curl = curl_init($url);
curl_setopt_array($curl, [
    CURLOPT_POST => true,
    CURLOPT_POSTFIELDS => $body,
    CURLOPT_HTTPHEADER => ['Content-Type: application/json'],
    CURLOPT_RETURNTRANSFER => true,
    CURLOPT_TIMEOUT => 10,
]);
echo curl_exec($curl), "\n";
